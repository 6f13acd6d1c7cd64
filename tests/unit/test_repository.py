"""The repository stands alone: no file points at notes outside it (they live in docs/)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Built from parts, so this file does not match itself.
OUTSIDE = ("../" + "shared", "PLATFORM" + ".md", "PAPER" + ".md", "STYLE" + ".md", "DESIGN" + ".md")


def test_no_tracked_file_refers_to_notes_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    offenders = []
    for name in tracked:
        path = ROOT / name
        if not path.is_file() or path.suffix in (".png", ".whl", ".safetensors"):
            continue
        text = path.read_text(errors="replace")
        offenders += [f"{name}: {ref}" for ref in OUTSIDE if ref in text]
    assert offenders == []
    assert (ROOT / "docs" / "platform.md").is_file() and (ROOT / "docs" / "paper.md").is_file()
