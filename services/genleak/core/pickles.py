"""Pickle checkpoints (.bin/.pt/.pth/.pkl/.ckpt), converted once to safetensors when a request allows it.

A pickle can run any code while it is unpickled, so genleak refuses pickle-only model folders by
default. With `allow_pickle` a folder is converted once, with torch's weights-only unpickler (it
rebuilds tensors and plain containers and refuses every other global, so a malicious pickle raises
instead of running), into `<cache>/from-pickle/<content hash>/`: model.safetensors plus the folder's
config and tokenizer files. Every loader downstream keeps reading safetensors only. The converted
folder is keyed by the hash of the source files, so a changed checkpoint converts again; it appears
only once complete (staging folder, then rename).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from genleak.core.errors import UnsafeArtifact
from genleak.core.loading import MODEL_LOAD_LOCK

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
WEIGHTS_FILE = "model.safetensors"
_SKIPPED = (".bin.index.json", ".pt.index.json")  # indexes of the pickle shards: meaningless after conversion


def convert_pickle_checkpoint(src: Path, cache_root: Path, where: str = "model.uri") -> Path:
    """The safetensors folder for the pickle-only model folder `src` (converted on first use)."""
    src = Path(src)
    pickles = sorted(p for p in src.iterdir() if p.suffix in PICKLE_SUFFIXES and p.is_file())
    if not pickles:
        raise UnsafeArtifact(f"{where}: {src} has no pickle weights to convert")
    dest = Path(cache_root) / _content_key(src, pickles)
    if (dest / WEIGHTS_FILE).is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=dest.parent))
    try:
        _write_safetensors(_load_state(pickles, where), staging / WEIGHTS_FILE)
        for item in src.iterdir():
            if item.is_file() and item.suffix not in PICKLE_SUFFIXES and not item.name.endswith(_SKIPPED):
                shutil.copy2(item, staging / item.name)
        try:
            os.replace(staging, dest)
        except OSError:  # another process converted the same checkpoint first
            if not (dest / WEIGHTS_FILE).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def _content_key(src: Path, pickles: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in [*pickles, src / "config.json"]:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:32]


def _load_state(pickles: list[Path], where: str) -> dict:
    import torch

    state: dict = {}
    for path in pickles:
        try:
            with MODEL_LOAD_LOCK:
                part = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - UnpicklingError and friends: refused, nothing ran
            raise UnsafeArtifact(f"{where}: {path.name} is not a plain tensor checkpoint; torch's weights-only "
                                 f"loader refused it ({type(exc).__name__}: {str(exc)[:200]})") from None
        if isinstance(part, dict) and "state_dict" in part and isinstance(part["state_dict"], dict):
            part = part["state_dict"]  # training checkpoints wrap the weights
        if not isinstance(part, dict) or not all(isinstance(v, torch.Tensor) for v in part.values()):
            raise UnsafeArtifact(f"{where}: {path.name} does not hold a state dict of tensors")
        state.update(part)
    return state


def _write_safetensors(state: dict, path: Path) -> None:
    from safetensors.torch import save_file

    # safetensors refuses tensors that share storage (tied embeddings): each gets its own copy.
    save_file({k: v.detach().contiguous().clone() for k, v in state.items()}, str(path), metadata={"format": "pt"})
