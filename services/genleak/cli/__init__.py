"""`genleak` command line: run experiments, serve services, build the lab, prepare zoo models.

`main` is the console script (`genleak = "genleak.cli:main"`) and `python -m genleak`. The parser is
in parser.py, each subcommand's entry in commands.py, and the longer commands in their own modules:
run.py (`genleak run`), plan.py (`validate`, `run --dry-run`), checks.py (what both check before anything
starts), runs.py (`status`, `runs`, `cancel`, `report`), lab.py, models.py, doctor.py.
"""

from __future__ import annotations

import logging
import os
import sys

from genleak.cli.parser import build_parser
from genleak.core.errors import GenleakError

log = logging.getLogger("genleak.cli")

_parser = build_parser  # the name tests build the parser by


def main(argv: list[str] | None = None) -> int:
    # Before torch loads: idle OpenMP workers sleep instead of spinning. Jobs of several services
    # share 2 cores in the embedded stack; spinning made torch 10-50x slower there.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # Our own progress bars and logs say what is happening; per-file load bars from transformers do not.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    args = build_parser().parse_args(argv)
    interactive = args.command in ("run", "lab", "models", "data", "status", "report", "doctor", "validate", "runs",
                                   "cancel")
    # vLLM logs to stdout; the interactive commands print the report there.
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR" if interactive else "WARNING")
    from genleak.logs import configure_logging

    configure_logging("text" if interactive else "auto", logging.DEBUG if args.verbose else
                      (logging.WARNING if interactive else logging.INFO))
    try:
        return args.func(args)
    except GenleakError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # grpc.RpcError and friends: one line, not a traceback
        code = getattr(exc, "code", None)
        details = getattr(exc, "details", None)
        if callable(code) and callable(details):
            print(f"error: {code().name}: {details()}", file=sys.stderr)
            return 2
        raise
