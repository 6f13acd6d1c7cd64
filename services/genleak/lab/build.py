"""`build_lab`: people -> mail -> splits -> tokenizer -> pretrained target + generator -> masked LM -> probe.

lab.json is written last and removed first, so its presence marks a complete build.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from transformers import PreTrainedModel, PreTrainedTokenizerFast

from genleak.compute.threads import torch_threads
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.lab.config import LabConfig
from genleak.lab.datasets import dataset_rows, write_datasets
from genleak.lab.mask_model import build_mask_model, mask_corpus
from genleak.lab.memorization import probe_model
from genleak.lab.models import new_generator, new_target, save_model_folder
from genleak.lab.people import make_people
from genleak.lab.pretrain import TrainRun, TrainStats, pretrain
from genleak.lab.report import lab_stats, memorization_report
from genleak.lab.result import LAB_JSON, LabResult, load_lab_result, write_lab_json
from genleak.lab.splits import LabSplits, build_splits
from genleak.lab.tokenizer import encode_documents, train_tokenizer

log = logging.getLogger(__name__)


def build_lab(config: LabConfig, out_dir: Path, reporter: Reporter | None = None) -> LabResult:
    reporter = reporter or NULL_REPORTER
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / LAB_JSON).unlink(missing_ok=True)
    phases: dict[str, float] = {}
    with torch_threads(config.pretrain.threads):
        with _timed(phases, "corpus"):
            splits = make_lab_datasets(config, out_dir / "datasets", reporter)
        with _timed(phases, "tokenizer"):
            tokenizer, documents = _tokenize_members(config, splits, reporter)
        models, train_stats = _pretrain_models(config, tokenizer, documents, out_dir / "models", phases, reporter)
        with _timed(phases, "pretrain_mask_model"):
            avoid = {d.text for d in splits.members + splits.nonmembers}
            mask_stats = build_mask_model(config, mask_corpus(config, splits.people, avoid),
                                          out_dir / "models" / "mask_model", reporter)
        with _timed(phases, "memorization"):
            memorization = _probe_models(config, models, tokenizer, splits, reporter)
    stats = lab_stats(config, splits, tokenizer, documents, models, train_stats, phases)
    stats["train"]["mask_model"] = mask_stats.as_dict()
    write_lab_json(out_dir, config, stats, memorization)
    log.info("lab built in %.1fs: %s", sum(phases.values()), memorization["summary"])
    return load_lab_result(out_dir)


def make_lab_datasets(config: LabConfig, datasets_dir: Path, reporter: Reporter = NULL_REPORTER) -> LabSplits:
    """The data half of the lab (no training): people, mail, splits, jsonl files."""
    reporter.update("corpus", 0, 2, "people")
    people = make_people(config.n_people, config.n_eval_people, config.n_fewshot_people, config.corpus.n_domains,
                         config.seed)
    reporter.update("corpus", 1, 2, "mail and splits")
    splits = build_splits(config, people)
    write_datasets(dataset_rows(splits, config.prompt_ratio, config.seed), datasets_dir)
    reporter.update("corpus", 2, 2, f"{len(splits.members)} member documents")
    return splits


def _tokenize_members(
    config: LabConfig, splits: LabSplits, reporter: Reporter,
) -> tuple[PreTrainedTokenizerFast, list[list[int]]]:
    reporter.update("tokenizer", 0, 1, "training byte-level BPE")
    texts = [d.text for d in splits.members]
    tokenizer = train_tokenizer(texts, config.vocab_size, config.pretrain.max_length)
    reporter.update("tokenizer", 1, 1, f"{len(tokenizer)} tokens")
    return tokenizer, encode_documents(tokenizer, texts, config.pretrain.max_length)


def _pretrain_models(
    config: LabConfig, tokenizer: PreTrainedTokenizerFast, documents: list[list[int]], models_dir: Path,
    phases: dict[str, float], reporter: Reporter,
) -> tuple[dict[str, PreTrainedModel], dict[str, TrainStats]]:
    """Both models see the same member documents; each is saved as soon as it is trained."""
    p = config.pretrain
    plans = (
        ("target", new_target(config.target, tokenizer, p.seed), TrainRun("pretrain-target", p.epochs, p.lr, p.seed)),
        ("generator", new_generator(config.generator, tokenizer, p.seed),
         TrainRun("pretrain-generator", p.generator_epochs, p.generator_lr, p.seed + 1)),
    )
    models, train_stats = {}, {}
    for role, model, run in plans:
        with _timed(phases, f"pretrain_{role}"):
            train_stats[role] = pretrain(model, documents, tokenizer.pad_token_id, run, p, reporter)
            save_model_folder(model, tokenizer, models_dir / role)
        models[role] = model
    return models, train_stats


def _probe_models(
    config: LabConfig, models: dict[str, PreTrainedModel], tokenizer: PreTrainedTokenizerFast, splits: LabSplits,
    reporter: Reporter,
) -> dict:
    targets = [p for p in splits.people if p.role == "eval"]
    few_shot = [p for p in splits.people if p.role == "fewshot"][:5]
    results = {
        role: probe_model(model, tokenizer, targets, few_shot, config.probe, f"memorization-{role}", reporter)
        for role, model in models.items()
    }
    return memorization_report(results, splits)


@contextmanager
def _timed(phases: dict[str, float], phase: str) -> Iterator[None]:
    """Wall seconds go to lab.json; CPU seconds are logged because shared machines skew wall time."""
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        phases[phase] = time.perf_counter() - started
        log.info("lab phase %s took %.1fs wall, %.1fs cpu", phase, phases[phase], time.process_time() - cpu_started)
