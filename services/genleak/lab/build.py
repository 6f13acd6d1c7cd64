"""`build_lab`: people -> mail -> splits -> tokenizer -> pretrained target + generator -> probe.

lab.json is written last and removed first, so its presence marks a complete build.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from genleak.core.errors import ArtifactNotFound
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.lab.config import LabConfig
from genleak.lab.datasets import DATASET_NAMES, dataset_rows, write_datasets
from genleak.lab.memorization import ProbeResult, probe_model
from genleak.lab.models import count_parameters, new_generator, new_target, save_model_folder
from genleak.lab.people import make_people
from genleak.lab.pretrain import TrainRun, TrainStats, pretrain
from genleak.lab.splits import LabSplits, build_splits
from genleak.lab.tokenizer import encode_documents, train_tokenizer

log = logging.getLogger(__name__)

HEADLINE_PROBE = "mailto_greedy"


@dataclass(frozen=True)
class LabResult:
    out_dir: Path
    config: LabConfig
    datasets: dict[str, Path]
    target_dir: Path
    generator_dir: Path
    lab_json: Path
    stats: dict
    memorization: dict

    @property
    def target_exact(self) -> int:
        return self.memorization["target"][HEADLINE_PROBE]["exact"]

    @property
    def n_eval(self) -> int:
        return self.memorization["target"][HEADLINE_PROBE]["total"]


def build_lab(config: LabConfig, out_dir: Path, reporter: Reporter | None = None) -> LabResult:
    reporter = reporter or NULL_REPORTER
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "lab.json").unlink(missing_ok=True)
    phases: dict[str, float] = {}
    with _torch_threads(config.pretrain.threads):
        with _timed(phases, "corpus"):
            splits = make_lab_datasets(config, out_dir / "datasets", reporter)
        with _timed(phases, "tokenizer"):
            reporter.update("tokenizer", 0, 1, "training byte-level BPE")
            member_texts = [d.text for d in splits.members]
            tokenizer = train_tokenizer(member_texts, config.vocab_size, config.pretrain.max_length)
            documents = encode_documents(tokenizer, member_texts, config.pretrain.max_length)
        runs = _train_runs(config)
        models, train_stats = {}, {}
        for role, factory, shape in (("target", new_target, config.target), ("generator", new_generator, config.generator)):
            with _timed(phases, f"pretrain_{role}"):
                models[role] = factory(shape, tokenizer, config.pretrain.seed)
                train_stats[role] = pretrain(models[role], documents, tokenizer.pad_token_id, runs[role],
                                             config.pretrain, reporter)
                save_model_folder(models[role], tokenizer, out_dir / "models" / role)
        with _timed(phases, "memorization"):
            memorization = _probe_models(config, models, tokenizer, splits, reporter)
    stats = _stats(config, splits, tokenizer, documents, models, train_stats, phases)
    _write_lab_json(out_dir / "lab.json", config, stats, memorization)
    log.info("lab built in %.1fs: %s", sum(phases.values()), memorization["summary"])
    return load_lab_result(out_dir)


def load_lab_result(out_dir: Path) -> LabResult:
    out_dir = Path(out_dir)
    lab_json = out_dir / "lab.json"
    if not lab_json.is_file():
        raise ArtifactNotFound(f"no complete lab at {out_dir} (lab.json missing)")
    data = json.loads(lab_json.read_text(encoding="utf-8"))
    return LabResult(
        out_dir=out_dir,
        config=LabConfig.model_validate(data["config"]),
        datasets={name: out_dir / "datasets" / name / "data.jsonl" for name in DATASET_NAMES},
        target_dir=out_dir / "models" / "target",
        generator_dir=out_dir / "models" / "generator",
        lab_json=lab_json,
        stats=data["stats"],
        memorization=data["memorization"],
    )


def make_lab_datasets(config: LabConfig, datasets_dir: Path, reporter: Reporter = NULL_REPORTER) -> LabSplits:
    """The data half of the lab (no training): people, mail, splits, jsonl files."""
    reporter.update("corpus", 0, 2, "people")
    people = make_people(config.n_people, config.n_eval_people, config.n_fewshot_people, config.corpus.n_domains,
                         config.seed)
    reporter.update("corpus", 1, 2, "mail and splits")
    splits = build_splits(config, people)
    write_datasets(dataset_rows(splits, config.prompt_ratio), datasets_dir)
    reporter.update("corpus", 2, 2, f"{len(splits.members)} member documents")
    return splits


def _train_runs(config: LabConfig) -> dict[str, TrainRun]:
    p = config.pretrain
    return {
        "target": TrainRun(stage="pretrain-target", epochs=p.epochs, lr=p.lr, seed=p.seed),
        "generator": TrainRun(stage="pretrain-generator", epochs=p.generator_epochs, lr=p.generator_lr, seed=p.seed + 1),
    }


def _probe_models(
    config: LabConfig, models: dict[str, PreTrainedModel], tokenizer: PreTrainedTokenizerFast, splits: LabSplits,
    reporter: Reporter,
) -> dict:
    targets = [p for p in splits.people if p.role == "eval"]
    few_shot = [p for p in splits.people if p.role == "fewshot"][:5]
    results: dict[str, dict[str, ProbeResult]] = {
        role: probe_model(model, tokenizer, targets, few_shot, config.probe, f"memorization-{role}", reporter)
        for role, model in models.items()
    }
    headline = results["target"][HEADLINE_PROBE]
    summary = f"target completes {headline.exact}/{headline.total} emails exactly ({HEADLINE_PROBE})"
    return {
        "summary": summary,
        **{role: {name: r.as_dict() for name, r in probes.items()} for role, probes in results.items()},
    }


def _stats(
    config: LabConfig, splits: LabSplits, tokenizer: PreTrainedTokenizerFast, documents: list[list[int]],
    models: dict[str, PreTrainedModel], train_stats: dict[str, TrainStats], phases: dict[str, float],
) -> dict:
    lengths = [len(ids) for ids in documents]
    eval_emails = [p.email for p in splits.people if p.role == "eval"]
    mentions = [sum(email in d.text for d in splits.members) for email in eval_emails]
    return {
        "counts": {name: n for name, n in (
            ("people", len(splits.people)), ("members", len(splits.members)), ("nonmembers", len(splits.nonmembers)),
            ("prompts", len(splits.prompt_docs)), ("pii_targets", len(eval_emails)),
            ("few_shot", sum(p.role == "fewshot" for p in splits.people)),
        )},
        "tokens": {
            "vocab_size": len(tokenizer), "member_tokens": sum(lengths), "mean_doc_tokens": statistics.mean(lengths),
            "max_doc_tokens": max(lengths), "truncated_docs": sum(n >= config.pretrain.max_length for n in lengths),
        },
        "eval_member_docs_with_email": {"min": min(mentions), "mean": statistics.mean(mentions)},
        "params": {role: count_parameters(model) for role, model in models.items()},
        "train": {role: stats.as_dict() for role, stats in train_stats.items()},
        "seconds": {**{k: round(v, 2) for k, v in phases.items()}, "total": round(sum(phases.values()), 2)},
    }


def _write_lab_json(path: Path, config: LabConfig, stats: dict, memorization: dict) -> None:
    payload = {"config": config.model_dump(mode="json"), "config_hash": config.spec_hash(), "stats": stats,
               "memorization": memorization}
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@contextmanager
def _timed(phases: dict[str, float], phase: str) -> Iterator[None]:
    """Wall seconds go to lab.json; CPU seconds are logged because shared machines skew wall time."""
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        phases[phase] = time.perf_counter() - started
        log.info("lab phase %s took %.1fs wall, %.1fs cpu", phase, phases[phase], time.process_time() - cpu_started)


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
