"""`genleak doctor`: print what works on this machine; exit 1 when the configured stack is broken."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import genleak.zoo  # noqa: F401  (registers the `zoo:` model scheme: --model zoo:<name>)
from genleak.core.settings import Settings
from genleak.doctor import Check, DoctorOptions, exit_code, run_checks, to_json

_MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def doctor_command(args: argparse.Namespace, settings: Settings) -> int:
    options = DoctorOptions(parity="parity" not in args.skip, presidio="presidio" not in args.skip,
                            model_dir=_model_dir(args.model, settings) if args.model else None,
                            model_label=args.model)
    live = None if args.json else _print_check
    checks = run_checks(settings, options, on_check=live or (lambda c: None))
    code = exit_code(checks)
    if args.json:
        print(json.dumps(to_json(checks), indent=2))
    else:
        failed = [c.name for c in checks if c.status == "fail"]
        print("\n" + (f"broken: {', '.join(failed)}" if failed else "nothing the configured stack needs is broken"))
    return code


def _print_check(check: Check) -> None:
    print(f"{_MARKS[check.status]}  {check.name:<28} {check.detail}", flush=True)


def _model_dir(reference: str, settings: Settings) -> Path:
    folder = Path(reference)
    if folder.is_dir():
        return folder
    from genleak.core.models import resolve_model_dir
    from genleak.core.store import ArtifactStore

    print(f"resolving {reference} ...", file=sys.stderr, flush=True)
    return resolve_model_dir(ArtifactStore(settings.store), reference, where="--model")
