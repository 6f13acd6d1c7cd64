"""`genleak models list|prepare`: the model zoo (real models shipped by PyPI packages, `zoo:<name>`)."""

from __future__ import annotations

import argparse
import sys
import time

from genleak.core.progress import Reporter
from genleak.core.settings import Settings
from genleak.core.store import ArtifactStore


def list_models_command(args: argparse.Namespace, settings: Settings) -> int:
    from genleak.zoo import find_zoo_model, zoo_entries

    store = ArtifactStore(settings.store)
    rows = [("URI", "PACKAGE", "INSTALLED", "IN STORE", "CHAT", "LICENSE")]
    for entry in zoo_entries():
        version = entry.installed_version()
        installed = (version or "yes") if entry.locate() is not None else (f"{version}, no file" if version else "no")
        ref = find_zoo_model(store, entry.name)
        rows.append((entry.uri, f"{entry.package}=={entry.version}", installed, ref.uri if ref else "no",
                     "yes" if entry.chat_template else "no", entry.license))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    missing = [e for e in zoo_entries() if e.locate() is None]
    for entry in missing:
        print(f"to install {entry.uri}: {entry.pip_command}", file=sys.stderr)
    return 0


def prepare_model_command(args: argparse.Namespace, settings: Settings) -> int:
    from genleak.zoo import ensure_zoo_model, find_zoo_model, get_zoo_entry

    entry = get_zoo_entry(args.name, where="name")
    store = ArtifactStore(settings.store)
    if find_zoo_model(store, entry.name) is None:
        print(f"preparing {entry.uri}: converting {entry.filename} from {entry.package} into {store.root} "
              f"(once per store; about half a minute on 2 CPU cores)", file=sys.stderr, flush=True)

    def on_progress(stage: str, done: int, total: int, message: str) -> None:
        print(f"  [{done}/{total}] {message}", file=sys.stderr, flush=True)

    started = time.monotonic()
    ref = ensure_zoo_model(store, entry.name, Reporter(on_progress), where="name")
    print(f"{entry.uri} ready in {time.monotonic() - started:.1f}s", file=sys.stderr)
    print(f"uri    {ref.uri}")
    print(f"sha256 {ref.sha256}")
    return 0


def import_model_command(args: argparse.Namespace, settings: Settings) -> int:
    """Publish a local HF model folder (or an hf:// model) as a content-keyed model artifact, so a spec or
    a remote service can use it by URI. Pickle-only weights need --allow-pickle (converted to safetensors
    with torch's weights-only loader first)."""
    from pathlib import Path

    from genleak.core.models import publish_model_folder, resolve_model_dir

    store = ArtifactStore(settings.store)
    source = args.source if args.source.startswith("hf://") else str(Path(args.source).resolve())
    folder = resolve_model_dir(store, source, "source", trust_remote_code=args.trust_remote_code,
                               allow_pickle=args.allow_pickle)
    ref = publish_model_folder(store, folder, {"source": source})
    print(f"uri    {ref.uri}")
    print(f"sha256 {ref.sha256}")
    return 0
