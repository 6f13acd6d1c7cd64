"""Finetuner core: fetch model + dataset, fine-tune, publish each epoch's adapter and merged model."""

from __future__ import annotations

from pathlib import Path

from genleak.contracts.finetune import FineTuneJobResult
from genleak.contracts.lab import LabBuildParams, LabBuildResult
from genleak.core.datasets import load_records, require_dataset
from genleak.core.jobs import JobOutput
from genleak.core.models import require_model, resolve_model
from genleak.core.outputs import run_cached
from genleak.core.progress import Reporter
from genleak.core.specs import ArtifactSpec, ModelSpec, Spec
from genleak.core.store import ArtifactRef, ArtifactStore
from genleak.finetuner.spec import FineTuneSpec


class FineTuneJobSpec(Spec):
    model: ModelSpec
    dataset: ArtifactSpec
    finetune: FineTuneSpec


class FinetunerCore:
    def __init__(self, store: ArtifactStore, work_dir: Path, processes: int | None = None):
        self.store = store
        self.work_dir = work_dir
        self.processes = processes  # data-parallel ranks per fine-tune; None = one per visible GPU

    def preflight(self, spec: FineTuneJobSpec) -> None:
        require_model(self.store, spec.model.uri, allow_pickle=spec.model.allow_pickle)
        require_dataset(self.store, spec.dataset.uri)

    def run_finetune(self, spec: FineTuneJobSpec, reporter: Reporter) -> JobOutput:
        return run_cached(self.store, "finetune", spec, reporter, lambda root, r: self._train_and_publish(spec, root, r))

    def build_lab(self, params: LabBuildParams, reporter: Reporter) -> JobOutput:
        """The built-in lab: built and published once per config (the store is the cache), then found."""
        from genleak.lab.publish import ensure_lab, lab_summary

        refs = ensure_lab(self.store, params.preset, params.seed, params.overrides, reporter)
        summary = LabBuildResult.model_validate(lab_summary(self.store, refs["index"].uri))
        return JobOutput(artifacts=refs, result=summary.model_dump(mode="json"))

    def _train_and_publish(self, spec: FineTuneJobSpec, root: str, reporter: Reporter) -> JobOutput:
        from genleak.finetuner.train import finetune

        records = load_records(self.store, ArtifactRef(spec.dataset.uri, spec.dataset.sha256, "dataset"), "dataset")
        model_dir = resolve_model(self.store, spec.model)
        # A stable work folder per spec lets an interrupted job resume from its last complete epoch.
        out_dir = self.work_dir / "finetune" / spec.spec_hash()[:32]
        result = finetune(model_dir, records, spec.finetune, out_dir, reporter, processes=self.processes)
        artifacts: dict[str, ArtifactRef] = {}
        meta = {"spec": spec.model_dump(mode="json"), "base_model": spec.model.uri}
        for ckpt in result.checkpoints:
            for role, folder in (("adapter", ckpt.adapter_dir), ("merged", ckpt.merged_dir)):
                if folder is not None:
                    kind = "adapter" if role == "adapter" else "model"
                    artifacts[f"epoch-{ckpt.epoch}/{role}"] = self.store.publish(
                        folder, f"{root}/epoch-{ckpt.epoch}/{role}", kind=kind, meta={**meta, "epoch": ckpt.epoch})
        summary = {**result.metrics.to_json(), "compute": result.compute}
        return JobOutput(artifacts=artifacts, result=FineTuneJobResult.model_validate(summary).model_dump(mode="json"))
