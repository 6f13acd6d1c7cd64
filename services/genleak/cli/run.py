"""`genleak run`: submit a spec to the controller (embedded or remote) and follow it."""

from __future__ import annotations

import argparse
import shutil
import sys
from contextlib import ExitStack
from pathlib import Path

from genleak.controller.spec import load_spec_text
from genleak.core.errors import InvalidSpec
from genleak.core.settings import Settings
from genleak.core.store import ArtifactStore
from genleak.rpc.channels import open_channel, wait_for_job
from genleak.v1 import controller_pb2, controller_pb2_grpc


# Spec keys that name a dataset: a local file there (.jsonl, .json, .parquet, .arrow, or a save_to_disk
# folder) is uploaded as an artifact first.
DATASET_KEYS = (("data", "prompts"), ("data", "pii_targets"), ("data", "few_shot"), ("data", "seed_tasks"),
                ("mia", "members"), ("mia", "nonmembers"), ("mia", "perplexity_dataset"),
                ("attack", "perplexity_dataset"))
# data.pii_targets may be the paper's Enron file: its gt-name/gt-email become {name, email}.
DATASET_VIEWS = {("data", "pii_targets"): "pii_targets"}


def run_experiment(args: argparse.Namespace, settings: Settings) -> int:
    spec_text = Path(args.spec).read_text()
    load_spec_text(spec_text, source=args.spec)  # fail fast, before any server starts
    spec_text = upload_local_datasets(spec_text, ArtifactStore(settings.store), Path(args.spec).parent)
    with ExitStack() as stack:
        address = _controller_address(args, settings, stack)
        # The embedded stack listens on plaintext loopback; a remote controller gets the configured TLS.
        tls = settings.tls if args.remote else None
        channel = stack.enter_context(open_channel(address, settings.auth_token, tls=tls,
                                                   lb_policy=settings.grpc_lb_policy if args.remote else ""))
        stub = controller_pb2_grpc.ControllerServiceStub(channel)
        job = stub.StartExperiment(controller_pb2.StartExperimentRequest(spec_yaml=spec_text, run_name=args.run_name))
        with _ProgressBar(enabled=not args.no_progress) as bar:
            job = wait_for_job(stub, job, bar.update)
        report_dir = ArtifactStore(settings.store).fetch(job.artifacts["report"].uri)
        print((report_dir / "report.md").read_text())
        print(f"report: {job.artifacts['report'].uri}")
        if args.out:
            _copy_report(report_dir, Path(args.out))
    return 0


def upload_local_datasets(spec_text: str, store: ArtifactStore, spec_dir: Path) -> str:
    """Replace local dataset files in the spec by dataset artifacts (services read only artifacts,
    and a remote service cannot see this machine's files). Paths resolve against the current
    folder, then the spec's folder."""
    import yaml

    from genleak.core.dataset_import import import_dataset_file, is_local_data_file

    data = yaml.safe_load(spec_text) or {}
    changed = False
    for section, key in DATASET_KEYS:
        ref = (data.get(section) or {}).get(key)
        if not isinstance(ref, str):
            continue
        for candidate in (ref, str(spec_dir / ref)):
            if is_local_data_file(candidate):
                view = DATASET_VIEWS.get((section, key), "records")
                data[section][key] = import_dataset_file(store, candidate, f"{section}.{key}", view=view).uri
                changed = True
                break
    return yaml.safe_dump(data, sort_keys=False) if changed else spec_text


def _controller_address(args: argparse.Namespace, settings: Settings, stack: ExitStack) -> str:
    if args.remote:
        address = args.controller or settings.controller_addr
        if not address:
            raise InvalidSpec("--remote needs --controller or GENLEAK_CONTROLLER_ADDR", field="controller")
        return address
    from genleak.app import EmbeddedStack

    return stack.enter_context(EmbeddedStack(settings)).controller_address


def _copy_report(report_dir: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for path in report_dir.iterdir():  # report.md/.html/.json and the ROC figures (roc.png, roc-<i>.png)
        if path.is_file() and path.name != "MANIFEST.json":
            shutil.copyfile(path, out / path.name)


class _ProgressBar:
    """A tqdm bar over the controller job: n/total stages, with the latest service message."""

    def __init__(self, enabled: bool):
        self._enabled = enabled
        self._bar = None

    def __enter__(self) -> "_ProgressBar":
        if self._enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=1, unit="stage", file=sys.stderr, dynamic_ncols=True)
        return self

    def update(self, job) -> None:
        if self._bar is None:
            return
        p = job.progress
        self._bar.total = max(p.total, 1)
        self._bar.n = p.done
        self._bar.set_description_str(p.message[:80], refresh=False)
        self._bar.refresh()

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.close()
