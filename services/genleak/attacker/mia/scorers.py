"""Registry of log-prob scorers: the engines that turn (model, texts) into `TokenLogProbs`.

"hf" is a batched transformers forward (exact, fastest for tiny models on CPU); "vllm" uses
vLLM's `prompt_logprobs` (faster for 25M+ models, docs/platform.md). Every scorer returns
results in input order, tokenised exactly as the model's HF tokenizer does, truncated to
`max_tokens`, so attacks see the same tokens whichever engine scored them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from genleak.attacker.mia.logprobs import TokenLogProbs, score_texts_hf
from genleak.attacker.mia.logprobs_vllm import score_texts_vllm  # imports vllm only when it runs
from genleak.core.progress import Reporter
from genleak.core.registry import Registry
from genleak.engines.base import EngineConfig

# (model_dir, texts, engine, max_tokens, reporter, with_vocab_stats) -> log-probs in input order.
# with_vocab_stats asks for mu/sigma (Min-K%++): one flag, or one per text (hf skips the stats per batch;
# vLLM computes them for every text when any needs them: full-vocab logprobs are one setting per request).
Scorer = Callable[..., list[TokenLogProbs]]

SCORERS: Registry[Scorer] = Registry("scoring engine", field="engine.name")


def register_scorer(name: str, scorer: Scorer) -> None:
    SCORERS.register(name, scorer)


def scorer_names() -> list[str]:
    return SCORERS.names()


def get_scorer(name: str) -> Scorer:
    return SCORERS.get(name)


def _hf_scorer(model_dir: Path, texts: list[str], engine: EngineConfig, max_tokens: int,
               reporter: Reporter, *, with_vocab_stats: bool | Sequence[bool] = True) -> list[TokenLogProbs]:
    from genleak.engines.hf import refuse_vllm_only

    refuse_vllm_only(engine)  # the same refusal the hf generation engine gives, before a model loads
    return score_texts_hf(model_dir, texts, batch_size=engine.batch_size, max_length=max_tokens, reporter=reporter,
                          dtype=engine.dtype, trust_remote_code=engine.trust_remote_code,
                          with_vocab_stats=with_vocab_stats, max_model_len=engine.max_model_len)


register_scorer("hf", _hf_scorer)
register_scorer("vllm", score_texts_vllm)
