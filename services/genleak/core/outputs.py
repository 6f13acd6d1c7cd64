"""Cache job outputs in the store, keyed by the spec hash (the spec includes its inputs' hashes).

A job's outputs are its artifacts plus a small `result` artifact (result.json) published
LAST: if that exists, the whole job is done and is returned without recomputation. This is
what makes reruns cheap and a killed run resumable at job granularity.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from genleak.core.jobs import JobOutput
from genleak.core.progress import Reporter
from genleak.core.specs import Spec
from genleak.core.store import ArtifactRef, ArtifactStore

RESULT_FILE = "result.json"


def job_root(store: ArtifactStore, kind: str, spec: Spec) -> str:
    return store.uri_for("jobs", kind, spec.spec_hash()[:32])


def run_cached(
    store: ArtifactStore,
    kind: str,
    spec: Spec,
    reporter: Reporter,
    compute: Callable[[str, Reporter], JobOutput],
) -> JobOutput:
    """Return cached outputs for (kind, spec) or run `compute(root_uri, reporter)` and record them."""
    root = job_root(store, kind, spec)
    cached = load_cached(store, root)
    if cached is not None:
        reporter.update("cached", 1, 1, "outputs found in store")
        return cached
    output = compute(root, reporter)
    record_output(store, root, kind, spec, output)
    return output


def load_cached(store: ArtifactStore, root: str) -> JobOutput | None:
    uri = f"{root}/result"
    if store.lookup(uri) is None:
        return None
    data = json.loads((store.fetch(uri) / RESULT_FILE).read_text())
    artifacts = {role: ArtifactRef(**ref) for role, ref in data["artifacts"].items()}
    return JobOutput(artifacts=artifacts, result=data["result"], cached=True)


def record_output(store: ArtifactStore, root: str, kind: str, spec: Spec, output: JobOutput) -> ArtifactRef:
    payload = {
        "kind": kind,
        "spec": spec.model_dump(mode="json"),
        "artifacts": {role: asdict(ref) for role, ref in output.artifacts.items()},
        "result": output.result,
    }
    with tempfile.TemporaryDirectory(prefix="genleak-result-") as tmp:
        (Path(tmp) / RESULT_FILE).write_text(json.dumps(payload, indent=1, sort_keys=True))
        return store.publish(Path(tmp), f"{root}/result", kind="job-result", meta={"spec_hash": spec.spec_hash()})
