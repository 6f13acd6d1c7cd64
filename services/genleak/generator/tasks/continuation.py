"""The paper's scenario-A generation recipe (docs/paper.md, scenario A; official data/continuation/generate.py).

Each source prompt gets one trailing space, prompts of `max_prompt_tokens` tokens or
more are dropped, the generator continues the rest (T=0.75, top-k 100, 1000 new tokens),
and the training text is prompt + generation. EOS is appended later by the finetuner.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

from pydantic import Field

from genleak.core.errors import InvalidSpec
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.core.specs import Spec
from genleak.engines.base import GenerationEngine, SamplingConfig
from genleak.generator.tasks.registry import register_task

log = logging.getLogger(__name__)

TokenCounter = Callable[[str], int]
FILTER_STAGE = "filter"


class ContinuationConfig(Spec):
    """Every knob of the recipe; the defaults are the paper's."""

    prompt_field: str = Field("prompt", description="Record field holding the source prompt")
    add_trailing_space: bool = Field(True, description="Append one space to each prompt (as the paper)")
    max_prompt_tokens: int = Field(
        2048, ge=1, description="Drop prompts of this many tokens or more (counted after the trailing space)"
    )
    keep_prompt: bool = Field(True, description="Training text = prompt + generation (paper); False = generation")
    temperature: float = Field(0.75, ge=0.0, description="Sampling temperature; 0 = greedy")
    top_k: int = Field(100, ge=-1, description="Top-k sampling; -1 or 0 = off")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass; 1.0 = off")
    max_new_tokens: int = Field(1000, ge=1, description="Tokens generated per continuation")
    n: int = Field(1, ge=1, description="Continuations per prompt")
    seed: int = Field(0, description="Sampling seed")
    limit: int | None = Field(None, ge=0, description="Use only the first N records (from offset); None = all")
    offset: int = Field(0, ge=0, description="Skip the first N records (a shard of a bigger job); the scrub, "
                                             "when asked, still sees every record, so surrogates match across shards")

    def sampling(self) -> SamplingConfig:
        return SamplingConfig(
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            max_new_tokens=self.max_new_tokens,
            n=self.n,
            seed=self.seed,
        )


def tokenizer_len_fn(model_dir: Path, trust_remote_code: bool = False) -> TokenCounter:
    """Token counter of the generator's own tokenizer (what the prompt filter must use)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), trust_remote_code=trust_remote_code)
    return lambda text: len(tokenizer.encode(text))


def generate_continuations(
    engine: GenerationEngine,
    token_counter: TokenCounter | Path | str,
    records: list[dict[str, Any]],
    config: ContinuationConfig,
    reporter: Reporter | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Continue each record's prompt; returns (output records, stats).

    `token_counter` counts prompt tokens for the length filter: a function, or the
    generator's model folder (its tokenizer is loaded).
    """
    reporter = reporter or NULL_REPORTER
    count = token_counter if callable(token_counter) else tokenizer_len_fn(Path(token_counter))
    started = time.perf_counter()
    end = None if config.limit is None else config.offset + config.limit
    selected = records[config.offset : end]
    prompts = [_prompt_of(rec, config.offset + i, config) for i, rec in enumerate(selected)]
    kept = [i for i, p in enumerate(prompts) if count(p) < config.max_prompt_tokens]
    reporter.update(FILTER_STAGE, len(selected), len(selected), f"kept {len(kept)} of {len(selected)} prompts")
    generations = engine.generate([prompts[i] for i in kept], config.sampling(), reporter)
    out = [
        _output_record(selected[i], prompts[i], text, sample, config)
        for i, samples in zip(kept, generations)
        for sample, text in enumerate(samples)
    ]
    stats = _stats(len(selected), len(kept), out, count, time.perf_counter() - started)
    log.info("continuation: %s", stats)
    return out, stats


def _prompt_of(record: dict[str, Any], index: int, config: ContinuationConfig) -> str:
    prompt = record.get(config.prompt_field)
    if not isinstance(prompt, str):
        raise InvalidSpec(f"record has no string field {config.prompt_field!r}", field=f"records[{index}]")
    return prompt + " " if config.add_trailing_space else prompt


def _output_record(
    source: dict[str, Any], prompt: str, generation: str, sample: int, config: ContinuationConfig
) -> dict[str, Any]:
    record: dict[str, Any] = {}
    if "doc_id" in source:
        record["doc_id"] = source["doc_id"]
    record["prompt"] = prompt
    record["generation"] = generation
    record["text"] = prompt + generation if config.keep_prompt else generation
    if config.n > 1:
        record["sample"] = sample
    return record


def _stats(n_in: int, n_kept: int, out: list[dict[str, Any]], count: TokenCounter, seconds: float) -> dict[str, Any]:
    # Re-tokenizing decoded text approximates the engine's token count (BPE round-trips are close).
    generated_tokens = sum(count(rec["generation"]) for rec in out)
    return {
        "n_in": n_in,
        "n_dropped_long": n_in - n_kept,
        "n_out": len(out),
        "generated_tokens_approx": generated_tokens,
        "seconds": round(seconds, 3),
        "tokens_per_second": round(generated_tokens / seconds, 1) if seconds > 0 else 0.0,
    }


register_task("continuation", ContinuationConfig, generate_continuations, lambda config: [config.prompt_field])
