"""Each subcommand's entry (the parser's `func`): settings from the arguments, then the command.

The longer commands live in their own modules (run.py, runs.py, lab.py, models.py, doctor.py), imported
when their subcommand runs so that `genleak --help` stays fast.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from genleak.core.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "store", None):
        settings = settings.model_copy(update={"store": settings.store.model_copy(update={"root": _store_uri(args.store)})})
    return settings


def _store_uri(value: str) -> str:
    return value if "://" in value else "file://" + str(Path(value).resolve())


def cmd_run(args: argparse.Namespace) -> int:
    if args.dry_run:  # what `genleak validate` prints; nothing starts
        from genleak.cli.plan import validate_command

        return validate_command(argparse.Namespace(**vars(args), json=False), _settings(args))
    from genleak.cli.run import run_experiment

    return run_experiment(args, _settings(args))


def cmd_serve(args: argparse.Namespace) -> int:
    from genleak.app import serve

    settings = _settings(args)
    server = serve(args.service, settings, args.host, args.port)
    print(f"genleak {args.service} serving on {args.host}:{server.port}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=10.0)  # graceful: running RPCs get time to finish
    return 0


def cmd_lab_build(args: argparse.Namespace) -> int:
    from genleak.cli.lab import build_lab_command

    return build_lab_command(args, _settings(args))


def cmd_models(args: argparse.Namespace) -> int:
    from genleak.cli.models import import_model_command, list_models_command, prepare_model_command

    commands = {"list": list_models_command, "prepare": prepare_model_command, "import": import_model_command}
    return commands[args.models_command](args, _settings(args))


def cmd_data_import(args: argparse.Namespace) -> int:
    from genleak.core.dataset_import import import_dataset_file, import_enron_file
    from genleak.core.store import ArtifactStore

    store = ArtifactStore(_settings(args).store)
    if args.as_format == "enron":
        refs = import_enron_file(store, args.file, "file")
        for name, ref in refs.items():  # the spec's data.<name>
            print(f"{name + '.uri':<18} {ref.uri}\n{name + '.sha256':<18} {ref.sha256}")
        return 0
    ref = import_dataset_file(store, args.file, "file")
    print(f"uri    {ref.uri}\nsha256 {ref.sha256}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from genleak.cli.runs import status_command

    return status_command(args, _settings(args))


def cmd_runs(args: argparse.Namespace) -> int:
    from genleak.cli.runs import runs_command

    return runs_command(args, _settings(args))


def cmd_cancel(args: argparse.Namespace) -> int:
    from genleak.cli.runs import cancel_command

    return cancel_command(args, _settings(args))


def cmd_validate(args: argparse.Namespace) -> int:
    from genleak.cli.plan import validate_command

    return validate_command(args, _settings(args))


def cmd_report(args: argparse.Namespace) -> int:
    from genleak.cli.runs import report_command

    return report_command(args, _settings(args))


def cmd_doctor(args: argparse.Namespace) -> int:
    from genleak.cli.doctor import doctor_command

    return doctor_command(args, _settings(args))


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from genleak.contracts.catalog import JOB_CONTRACTS

    contract = JOB_CONTRACTS[args.job]
    model = contract.result if args.result else contract.params
    if model is None:
        print(f"error: {contract.rpc} returns a typed response message, not a job result", file=sys.stderr)
        return 2
    print(json.dumps(model.model_json_schema(), indent=2))
    return 0
