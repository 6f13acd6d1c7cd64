"""Samples to scan: unconditioned generations and continuations of prompts drawn from a dataset.

Unconditioned means the model starts from nothing but its BOS token (or a configurable short
prefix), as in Carlini et al.'s training-data extraction: what the model volunteers. Prompted
samples continue real prompts; only the generated text is scanned (PII in the prompt itself
is not leakage).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence


from genleak.contracts.pii_scan import PIISampling
from genleak.core.errors import InvalidSpec
from genleak.core.progress import Reporter
from genleak.engines import GenerationEngine

SAMPLE_STAGE = "sample"
UNCONDITIONED = "unconditioned"
PROMPTED = "prompted"


@dataclass(frozen=True)
class Sample:
    source: str  # unconditioned | prompted
    row: int  # sample number (unconditioned) or prompt record index (prompted)
    prompt: str
    text: str  # the generation only


def generate_samples(engine: GenerationEngine, model_dir: Path, spec: PIISampling,
                     prompt_records: Sequence[Mapping[str, Any]] | None, batch_size: int,
                     reporter: Reporter) -> list[Sample]:
    samples = _unconditioned(engine, unconditioned_prompt(model_dir, spec.prefix), spec,
                             batch_size, reporter) if spec.n_unconditioned else []
    if prompt_records is not None and spec.n_prompted:
        samples += _prompted(engine, spec, prompt_records, reporter)
    return samples


def unconditioned_prompt(model_dir: Path, prefix: str) -> str:
    """`prefix`, or the text that tokenizes to just the BOS token: "" when the tokenizer adds BOS
    itself (Llama), else the BOS (or EOS) token's text (GPT-NeoX / Pythia, GPT-2)."""
    if prefix:
        return prefix
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    if tok("")["input_ids"]:
        return ""
    start = tok.bos_token or tok.eos_token
    if not start:
        raise InvalidSpec("the model's tokenizer has no BOS or EOS token; set a prefix", field="samples.prefix")
    return start


def _unconditioned(engine: GenerationEngine, prompt: str, spec: PIISampling, batch_size: int,
                   reporter: Reporter) -> list[Sample]:
    """One prompt, n samples, in chunks of `batch_size` with per-chunk seeds (vLLM seeds per request:
    the same prompt and seed would repeat one sample)."""
    texts: list[str] = []
    for k, begin in enumerate(range(0, spec.n_unconditioned, batch_size)):
        reporter.update(SAMPLE_STAGE, begin, spec.n_unconditioned, f"{UNCONDITIONED} {begin}/{spec.n_unconditioned}")
        n = min(batch_size, spec.n_unconditioned - begin)
        sampling = spec.sampling.model_copy(update={"n": n, "seed": spec.sampling.seed + k})
        texts += engine.generate([prompt], sampling, reporter)[0]
    return [Sample(UNCONDITIONED, i, prompt, text) for i, text in enumerate(texts)]


def _prompted(engine: GenerationEngine, spec: PIISampling, records: Sequence[Mapping[str, Any]],
              reporter: Reporter) -> list[Sample]:
    rows = draw_rows(len(records), spec.n_prompted, spec.sampling.seed)
    prompts = []
    for i in rows:
        value = records[i].get(spec.prompt_field)
        if not isinstance(value, str):
            raise InvalidSpec(f"record {i} has no string field {spec.prompt_field!r}", field="samples.prompt_field")
        prompts.append(value)
    reporter.update(SAMPLE_STAGE, 0, len(prompts), f"{PROMPTED} {len(prompts)} prompts")
    outputs = engine.generate(prompts, spec.sampling, reporter)
    return [Sample(PROMPTED, row, prompt, text) for row, prompt, texts in zip(rows, prompts, outputs) for text in texts]


def draw_rows(n_records: int, n: int, seed: int) -> list[int]:
    """Seeded draw without replacement, in record order; every row when n >= n_records."""
    if n >= n_records:
        return list(range(n_records))
    return sorted(random.Random(f"pii-prompts-{seed}").sample(range(n_records), n))
