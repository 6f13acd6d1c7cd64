"""`genleak lab build`: build the lab, publish it into the store, optionally copy it to a folder."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from genleak.core.progress import Reporter
from genleak.core.settings import Settings
from genleak.core.store import ArtifactStore


def build_lab_command(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from genleak.lab.publish import ensure_lab, lab_summary

    store = ArtifactStore(settings.store)
    with tqdm(total=1, unit="step") as bar:
        def on_progress(stage: str, done: int, total: int, message: str) -> None:
            bar.total, bar.n = max(total, 1), done
            bar.set_description_str(f"{stage} {message}"[:80], refresh=True)

        refs = ensure_lab(store, args.preset, args.seed, reporter=Reporter(on_progress))
    summary = lab_summary(store, refs["index"].uri)
    print(summary.get("memorization", {}).get("summary", ""))
    print(json.dumps({"lab": refs["index"].uri, "memorization": summary.get("memorization"), "stats": summary.get("stats")},
                     indent=1))
    for name, ref in refs.items():
        print(f"lab:{name:12s} {ref.uri}")
    if args.out:
        _copy_out(store, refs, Path(args.out))
    return 0


def _copy_out(store: ArtifactStore, refs: dict, out: Path) -> None:
    for name, ref in refs.items():
        if ref.kind == "lab":
            continue
        dest = out / ("models" if ref.kind == "model" else "datasets") / name
        shutil.copytree(store.fetch(ref.uri), dest, dirs_exist_ok=True)
