"""Install, from carried wheels, what genleak needs and this Python lacks: `gpu_env.py WHEELS TARGET`.

For each line of bench/gpu_requirements.txt whose requirement this interpreter does not meet, the
pinned wheel is installed (no dependencies, no index) into TARGET, which goes first on PYTHONPATH.
Prints what was found and what was installed; exits 1 if a needed wheel is missing.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

REQUIREMENTS = Path(__file__).with_name("gpu_requirements.txt")


def needed() -> list[tuple[Requirement, str]]:
    pairs = []
    for line in REQUIREMENTS.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) == 2:
            pairs.append((Requirement(fields[0]), fields[1]))
    return pairs


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def main(wheels: Path, target: Path) -> int:
    missing = []
    for requirement, pinned in needed():
        version = installed_version(requirement.name)
        ok = version is not None and requirement.specifier.contains(version, prereleases=True)
        print(f"{requirement.name:24} here: {version or '-':12} need {requirement.specifier}: "
              f"{'ok' if ok else 'install ' + pinned}")
        if not ok:
            missing.append(pinned)
    if not missing:
        return 0
    target.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--find-links",
               str(wheels), "--target", str(target), *missing]
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
