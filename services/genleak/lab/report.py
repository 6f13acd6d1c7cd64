"""The numbers lab.json records: corpus and training statistics, and the memorisation report."""

from __future__ import annotations

import statistics

from transformers import PreTrainedModel, PreTrainedTokenizerFast

from genleak.lab.config import LabConfig
from genleak.lab.memorization import ProbeResult
from genleak.lab.models import count_parameters
from genleak.lab.pretrain import TrainStats
from genleak.lab.result import HEADLINE_PROBE
from genleak.lab.splits import LabSplits


def memorization_report(results: dict[str, dict[str, ProbeResult]], splits: LabSplits) -> dict:
    headline = results["target"][HEADLINE_PROBE]
    doc_counts = member_docs_per_eval_person(splits)
    return {
        "summary": f"target completes {headline.exact}/{headline.total} emails exactly ({HEADLINE_PROBE})",
        **{
            role: {name: {**r.as_dict(), "exact_by_member_docs": exact_by_member_docs(r, doc_counts)}
                   for name, r in probes.items()}
            for role, probes in results.items()
        },
    }


def member_docs_per_eval_person(splits: LabSplits) -> dict[str, int]:
    """person_id -> member documents containing their email (the exposure memorisation depends on)."""
    return {p.person_id: sum(p.email in d.text for d in splits.members) for p in splits.people if p.role == "eval"}


def exact_by_member_docs(result: ProbeResult, doc_counts: dict[str, int]) -> dict[str, list[int]]:
    """"n docs" -> [exact hits, people]: memorisation should rise with exposure."""
    hits = set(result.exact_person_ids)
    table: dict[int, list[int]] = {}
    for person_id, n_docs in doc_counts.items():
        row = table.setdefault(n_docs, [0, 0])
        row[0] += person_id in hits
        row[1] += 1
    return {str(n): table[n] for n in sorted(table)}


def lab_stats(
    config: LabConfig, splits: LabSplits, tokenizer: PreTrainedTokenizerFast, documents: list[list[int]],
    models: dict[str, PreTrainedModel], train_stats: dict[str, TrainStats], phases: dict[str, float],
) -> dict:
    return {
        "counts": _counts(splits),
        "tokens": _token_stats(config, tokenizer, documents),
        "eval_member_docs_with_email": _spread(list(member_docs_per_eval_person(splits).values())),
        "params": {role: count_parameters(model) for role, model in models.items()},
        "train": {role: stats.as_dict() for role, stats in train_stats.items()},
        "seconds": {**{k: round(v, 2) for k, v in phases.items()}, "total": round(sum(phases.values()), 2)},
    }


def _counts(splits: LabSplits) -> dict[str, int]:
    roles = [p.role for p in splits.people]
    return {
        "people": len(splits.people), "members": len(splits.members), "nonmembers": len(splits.nonmembers),
        "prompts": len(splits.prompt_docs), "pii_targets": roles.count("eval"), "few_shot": roles.count("fewshot"),
        "tuning_people": roles.count("tuning"),
    }


def _token_stats(config: LabConfig, tokenizer: PreTrainedTokenizerFast, documents: list[list[int]]) -> dict:
    lengths = [len(ids) for ids in documents]  # EOS included
    return {
        "vocab_size": len(tokenizer),
        "member_tokens": sum(lengths),
        "mean_doc_tokens": round(statistics.mean(lengths), 2),
        "max_doc_tokens": max(lengths),
        "truncated_docs": sum(n >= config.pretrain.max_length for n in lengths),
    }


def _spread(values: list[int]) -> dict[str, float]:
    return {"min": min(values), "max": max(values), "mean": statistics.mean(values)}
