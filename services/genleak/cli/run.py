"""`genleak run`: submit a spec to the controller (embedded or remote) and follow it."""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Iterator

from genleak.cli.checks import check_local_inputs, read_spec_file
from genleak.controller.references import DATASET_KEYS
from genleak.controller.spec import load_spec_text
from genleak.core.errors import InvalidSpec
from genleak.core.settings import Settings
from genleak.core.store import ArtifactStore
from genleak.rpc.channels import RemoteJobError, open_channel, wait_for_job
from genleak.v1 import common_pb2, controller_pb2, controller_pb2_grpc

# A local file under one of DATASET_KEYS (.jsonl, .json, .parquet, .arrow, or a save_to_disk folder) is
# uploaded as an artifact first. data.pii_targets may be the paper's Enron file: its gt-name/gt-email
# become {name, email}.
DATASET_VIEWS = {("data", "pii_targets"): "pii_targets"}
JOB_LOGGER = "genleak.core.jobs"
CANCELLED_EXIT = 130  # as for Ctrl-C: stopped on purpose (a cancelled run resumes when started again)


def run_experiment(args: argparse.Namespace, settings: Settings) -> int:
    if args.detach and not args.remote:
        raise InvalidSpec("--detach needs --remote: an embedded run lives in this process and ends with it",
                          field="detach")
    spec, spec_text = _checked_spec(args, settings)  # before any server starts
    run = args.run_name or spec.name
    with ExitStack() as stack:
        stub = _controller(args, settings, stack)
        job = stub.StartExperiment(controller_pb2.StartExperimentRequest(spec_yaml=spec_text, run_name=args.run_name))
        print(started_line(run, job.job_id), file=sys.stderr, flush=True)
        if args.detach:
            print(job.job_id)
            return 0
        try:
            job = _follow(stub, job, progress=not args.no_progress)
        except KeyboardInterrupt:
            if not args.remote:
                raise  # the embedded stack stops with this process, and its jobs with it
            return interrupted_remote_run(stub, job.job_id, run, ask=input if sys.stdin.isatty() else None)
        if job is None:
            print(f"run {run}: cancelled (`genleak run` again resumes from the store)", file=sys.stderr)
            return CANCELLED_EXIT
        _print_report(job, ArtifactStore(settings.store), args.out)
    return 0


def _checked_spec(args: argparse.Namespace, settings: Settings):
    """The validated spec, its local inputs checked, and its text as the controller gets it (local dataset
    files replaced by their artifacts)."""
    spec_text = read_spec_file(args.spec)
    spec = load_spec_text(spec_text, source=args.spec)
    check_local_inputs(spec, Path(args.spec).parent, remote=args.remote)
    return spec, submitted_spec_text(spec_text, spec, ArtifactStore(settings.store), Path(args.spec).parent,
                                     args.remote)


def submitted_spec_text(spec_text: str, spec, store: ArtifactStore, spec_dir: Path, remote: bool) -> str:
    """The spec as the controller gets it (and as its hash, so its cache keys, are computed): hf:// models
    pinned to commits, local model folders published when the services are remote, local dataset files
    published always (services read artifacts)."""
    spec_text = pin_hf_models(spec_text, spec)
    if remote:  # an embedded stack reads this machine's folders in place; remote services cannot
        spec_text = upload_local_models(spec_text, spec, store, spec_dir)
    return upload_local_datasets(spec_text, store, spec_dir)


def _controller(args: argparse.Namespace, settings: Settings, stack: ExitStack):
    """A stub of the remote controller, or of the embedded stack's (started here, stopped with `stack`)."""
    if not args.remote and not getattr(args, "verbose", False):
        stack.enter_context(_job_log_errors_only())
    address = _controller_address(args, settings, stack)
    # The embedded stack listens on plaintext loopback; a remote controller gets the configured TLS.
    tls = settings.tls if args.remote else None
    channel = stack.enter_context(open_channel(address, settings.auth_token, tls=tls,
                                               lb_policy=settings.grpc_lb_policy if args.remote else ""))
    return controller_pb2_grpc.ControllerServiceStub(channel)


def _print_report(job, store: ArtifactStore, out: str) -> None:
    report_dir = store.fetch(job.artifacts["report"].uri)
    print((report_dir / "report.md").read_text())
    print(f"report: {job.artifacts['report'].uri}")
    if out:
        _copy_report(report_dir, Path(out))


def started_line(run: str, job_id: str) -> str:
    """What `genleak run` says once the controller took the run: its names, and how to follow or stop it."""
    return (f"run {run}: job {job_id} started (`genleak status {run}` shows where it stands, "
            f"`genleak cancel {run}` stops it)")


def interrupted_remote_run(stub, job_id: str, run: str, ask: Callable[[str], str] | None) -> int:
    """Ctrl-C while following a --remote run: the run is the controller's, not this process's, so it would
    go on unseen. Ask whether to cancel it (`ask`, when someone is at the terminal); otherwise, or on no,
    leave it going and say how to follow or stop it."""
    answer = ""
    if ask is not None:
        try:
            answer = ask(f"\ncancel run {run} on the controller? [y/N] ")
        except (EOFError, KeyboardInterrupt):
            answer = ""
    if answer.strip().lower() in ("y", "yes"):
        stub.CancelJob(common_pb2.CancelJobRequest(job_id=job_id))
        print(f"run {run}: cancelled (job {job_id})", file=sys.stderr)
    else:
        print(f"run {run} is still running on the controller: `genleak status {run}` follows it, "
              f"`genleak cancel {run}` stops it", file=sys.stderr)
    return CANCELLED_EXIT


def _follow(stub, job, progress: bool):
    """The job once it succeeded; None when it was cancelled (`genleak cancel`); raises when it failed."""
    try:
        with _ProgressBar(enabled=progress) as bar:
            return wait_for_job(stub, job, bar.update)
    except RemoteJobError as exc:
        if exc.code != "CANCELLED":
            raise
        return None


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


def pin_hf_models(spec_text: str, spec, resolve: Callable[[str], str | None] | None = None) -> str:
    """Name the commit of every `hf://org/name` model without a revision (`hf://org/name@<commit>`), so the
    run's spec, its cache keys and its report say exactly which weights ran. A reference that cannot be
    pinned here (no hub, no preloaded copy) stays as written, with a warning."""
    from genleak.core.hub import is_hf_uri, parse_hf_uri, pinned_revision

    resolve = resolve or pinned_revision

    def pinned(ref) -> str | None:
        if not is_hf_uri(ref.value) or parse_hf_uri(ref.value, ref.key)[1]:
            return None
        commit = resolve(parse_hf_uri(ref.value, ref.key)[0])
        if commit is None:
            print(f"warning: {ref.key} {ref.value} is not pinned to a commit (no hub or preloaded copy here); "
                  "the services fetch whatever its main branch is then", file=sys.stderr)
            return None
        print(f"pinned {ref.key} {ref.value} -> @{commit}", file=sys.stderr)
        return f"{ref.value}@{commit}"

    return _rewrite_models(spec_text, spec, pinned)


def upload_local_models(spec_text: str, spec, store: ArtifactStore, spec_dir: Path) -> str:
    """Replace every local model folder the spec names (target, generator, reference and mask models) by a
    model artifact published from it, as local datasets are: a remote service cannot see this machine's
    folders. Paths resolve against the current folder, then the spec's folder."""
    from genleak.core.models import publish_model_folder

    def uploaded(ref) -> str | None:
        if not ref.is_path:
            return None
        folder = next((c for c in (Path(ref.value).expanduser(), spec_dir / ref.value) if c.is_dir()), None)
        if folder is None:
            return None
        uri = publish_model_folder(store, folder.resolve(), {"source": str(folder.resolve()), "key": ref.key}).uri
        print(f"uploaded {ref.key} {folder} -> {uri}", file=sys.stderr)
        return uri

    return _rewrite_models(spec_text, spec, uploaded)


def _rewrite_models(spec_text: str, spec, rewrite: Callable) -> str:
    """The spec text with each model reference that `rewrite(ref)` gives a new value for replaced by it
    (None: kept); the text unchanged when nothing is."""
    import yaml

    from genleak.controller.references import named_references

    data = yaml.safe_load(spec_text) or {}
    changed = False
    for ref in named_references(spec):
        value = rewrite(ref) if ref.kind == "model" else None
        if value is not None:
            _set_key(data, ref.key, value)
            changed = True
    return yaml.safe_dump(data, sort_keys=False) if changed else spec_text


def _set_key(data: dict, key: str, value: str) -> None:
    """Set a dotted YAML key with list indices (`generators[1].model`, `mia.attacks.ne.mask_model`)."""
    parts = [p for p in re.split(r"\.|\[(\d+)\]", key) if p]
    node = data
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    node[int(last) if last.isdigit() else last] = value


def _controller_address(args: argparse.Namespace, settings: Settings, stack: ExitStack) -> str:
    if args.remote:
        address = args.controller or settings.controller_addr
        if not address:
            raise InvalidSpec("--remote needs --controller or GENLEAK_CONTROLLER_ADDR", field="controller")
        return address
    from genleak.app import EmbeddedStack

    return stack.enter_context(EmbeddedStack(settings)).controller_address


@contextmanager
def _job_log_errors_only() -> Iterator[None]:
    """The embedded services log each failed job, and the run's error line says the same again: while the
    run goes, their job log says only what is worse than a failed job (a crash, with its trace)."""
    logger = logging.getLogger(JOB_LOGGER)
    before = logger.level
    logger.setLevel(max(logging.ERROR, before))
    try:
        yield
    finally:
        logger.setLevel(before)


def _copy_report(report_dir: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for path in report_dir.iterdir():  # report.md/.html/.json and the ROC figures (roc.png, roc-<i>.png)
        if path.is_file() and path.name != "MANIFEST.json":
            shutil.copyfile(path, out / path.name)


class _ProgressBar:
    """A tqdm bar over the controller job: stages done / total and the latest service message. No rate and
    no time left: stages differ by orders of magnitude (a fine-tune vs a scan), so an estimate from the
    first ones is wrong (the demo said 1:33:40 left of a 9-minute run); the time so far is shown instead."""

    FORMAT = "{n_fmt}/{total_fmt} {unit} |{bar:24}| {elapsed} {desc}"

    def __init__(self, enabled: bool, file=None):
        self._enabled = enabled
        self._file = file
        self._bar = None

    def __enter__(self) -> "_ProgressBar":
        if self._enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=1, unit="stages", file=self._file or sys.stderr, dynamic_ncols=True,
                             bar_format=self.FORMAT)
        return self

    def update(self, job) -> None:
        if self._bar is None:
            return
        p = job.progress
        self._bar.total = max(p.total, 1)
        self._bar.n = p.done
        # Before the stages: the lab's own steps (built once per preset, then found in the store).
        self._bar.unit = "stages" if p.stage in ("experiment", "") else f"{p.stage} steps"
        self._bar.set_description_str(p.message[:80], refresh=False)
        self._bar.refresh()

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.close()
