"""Per-token log-probs under vLLM's `prompt_logprobs`: the "vllm" MIA scorer.

Same contract as `score_texts_hf`: the model's HF tokenizer (`encode_for_scoring`) makes the
token ids, vLLM gets those ids (not text), so both engines score exactly the same tokens;
results come back in input order. fp32 scores match the HF forward to ~1e-6 per token
(docs/platform.md); dtype "auto" means float32 here too, and bfloat16 on a CPU is checked
against transformers before scoring (`genleak.engines.precision`). A text that fills max_model_len is
still scored whole (vLLM wants room for one output token; see `_score`); a longer one is scored in
MIMIR's sliding windows (`windows`), as the hf scorer does.

Min-K%++ needs mu/sigma over the whole vocabulary at each position. vLLM 0.32 on CPU can
only return that as `prompt_logprobs=-1` (with `LLM(max_logprobs=-1)`): the full sorted
vocabulary per prompt token, which the output processor turns into Python lists (~0.3 us
and ~100 bytes per vocab entry per token). Measured on 2 cores: vocab 1k, 4-8x slower than
plain scoring; vocab 32k, ~85 tok/s. The cheaper `prompt_logprob_token_ids` path needs the
V2 model runner, which needs Triton (not installed on CPU). So vocab stats are opt-in
(`with_vocab_stats=True`); without them mu/sigma stay None and Min-K%++ refuses. For
Min-K%++ on real vocabularies the hf scorer is the better engine (its mu/sigma are free).

Only plain (merged) model folders: vLLM LoRA + prompt_logprobs crashes on CPU (docs/platform.md,
vLLM LoRA and prompt log-probs), so a peft adapter folder is refused. vLLM is imported only when a scorer call runs;
every call starts its own engine (~20-30 s on CPU) and shuts it down at the end, also on
error and cancel.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from genleak.attacker.mia.logprobs import _LOGP_FLOOR, TokenLogProbs, encode_for_scoring
from genleak.attacker.mia.windows import plan_windows, stitch, window_ids, windowed_count
from genleak.core.errors import InvalidSpec
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.engines.base import EngineConfig, check_model_dir
from genleak.engines.precision import PrecisionGate, needs_check
from genleak.engines.vllm_engine import reporting_bar_factory, shutdown_llm  # imports no vllm itself

log = logging.getLogger(__name__)

SCORE_STAGE = "score"
# With vocab stats, requests go to vLLM in chunks of at most this many (token x vocab)
# entries, so the Python lists the output processor builds (~100 B an entry) stay bounded
# (~0.4 GB). A single text is never split (its context must stay whole).
_VOCAB_ENTRIES_PER_CHUNK = 4_000_000


def score_texts_vllm(
    model_dir: Path,
    texts: list[str],
    engine: EngineConfig,
    max_tokens: int,
    reporter: Reporter | None = None,
    *,
    with_vocab_stats: bool | Sequence[bool] = False,
) -> list[TokenLogProbs]:
    """Log-probs of `texts` (truncated to `max_tokens` tokens) under the model in `model_dir`.

    `with_vocab_stats` also computes mu/sigma (Min-K%++) from full-vocabulary prompt
    log-probs; it is several times slower, so LOSS/zlib/Min-K% runs leave it off.
    """
    # Full-vocabulary logprobs are one setting per request: any text needing stats turns them on.
    with_vocab_stats = with_vocab_stats if isinstance(with_vocab_stats, bool) else any(with_vocab_stats)
    from genleak.engines.vllm_engine import _cuda_available, _import_vllm, _llm_kwargs, set_cpu_env_defaults

    reporter = reporter or NULL_REPORTER
    model_dir = _check_merged_model_dir(Path(model_dir))
    reporter.check()
    if not texts:
        return []
    on_gpu = _cuda_available()
    if not on_gpu:
        set_cpu_env_defaults(engine.kv_cache_gib)
    vllm = _import_vllm()
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir, trust_remote_code=engine.trust_remote_code)
    encoded = encode_for_scoring(tokenizer, texts, max_tokens)
    # "auto" scores in float32 on every device, as score_texts_hf: scores are compared across engines.
    dtype = "float32" if engine.dtype == "auto" else engine.dtype
    # Reduced precision on a CPU is checked against transformers first (a known mismatch before vLLM starts).
    gate = PrecisionGate(model_dir, dtype) if needs_check(dtype, on_gpu) else None
    if gate is not None:
        gate.refuse_known_mismatch()
    kwargs = _llm_kwargs(model_dir, engine.model_copy(update={"dtype": dtype}), on_gpu)
    if with_vocab_stats:
        kwargs["max_logprobs"] = -1  # allow prompt_logprobs=-1 (the whole vocabulary)
    started = time.perf_counter()
    llm = vllm.LLM(**kwargs)
    log.info("vllm scorer ready for %s in %.1fs", model_dir, time.perf_counter() - started)
    try:
        if gate is not None:
            gate.ensure(llm, engine.trust_remote_code)
        return _score_in_windows(llm, vllm, texts, encoded, with_vocab_stats, reporter)
    finally:
        shutdown_llm(llm)


def _score_in_windows(llm: Any, vllm: Any, texts: list[str], encoded: list[list[int]], with_vocab_stats: bool,
                      reporter: Reporter) -> list[TokenLogProbs]:
    """Texts longer than max_model_len go in MIMIR's sliding windows (`windows`), as the hf scorer does."""
    context = int(llm.llm_engine.model_config.max_model_len)
    windows = plan_windows(encoded, context)
    if len(windows) == len(texts):  # every text fits: one sequence each
        return _score(llm, vllm, texts, encoded, with_vocab_stats, reporter)
    log.info("%d of %d texts are longer than max_model_len %d: scored in %d windows (stride %d)",
             windowed_count(windows), len(texts), context, len(windows), context // 2)
    sequences = window_ids(encoded, windows)
    scored = _score(llm, vllm, [texts[w.text] for w in windows], sequences, with_vocab_stats, reporter)
    stitched = stitch(windows, [(s.logprobs, s.mu, s.sigma) for s in scored], len(texts))
    return [TokenLogProbs(texts[i], np.asarray(encoded[i], dtype=np.int64), *stitched[i]) for i in range(len(texts))]


def _check_merged_model_dir(model_dir: Path) -> Path:
    adapter = (model_dir / "adapter_config.json").is_file()
    weights = [p.name for p in model_dir.glob("*.safetensors") if not p.name.startswith("adapter_model")]
    if adapter and (not (model_dir / "config.json").is_file() or not weights):
        raise InvalidSpec(
            f"{model_dir} is a peft adapter; the vllm scorer needs a plain model folder: pass the merged "
            "checkpoint (vLLM LoRA + prompt_logprobs crashes on CPU), or use the hf engine",
            field="model",
        )
    return check_model_dir(model_dir)


def _score(llm: Any, vllm: Any, texts: list[str], encoded: list[list[int]], with_vocab_stats: bool,
           reporter: Reporter) -> list[TokenLogProbs]:
    from vllm.exceptions import VLLMValidationError

    model_config = llm.llm_engine.model_config
    vocab_size, max_len = model_config.get_vocab_size(), model_config.max_model_len
    params = _params(vllm, with_vocab_stats, None)
    # Texts with fewer than 2 tokens have no next-token log-probs (and vLLM refuses empty prompts).
    todo = [i for i, ids in enumerate(encoded) if len(ids) >= 2]
    results: dict[int, TokenLogProbs] = {
        i: _result(texts[i], ids, np.zeros(0), with_vocab_stats) for i, ids in enumerate(encoded) if len(ids) < 2
    }
    chunks = _chunks(todo, encoded, vocab_size + 1 if with_vocab_stats else 0)
    done = 0
    started = time.perf_counter()
    for chunk in chunks:
        reporter.check()
        # vLLM refuses a prompt of max_model_len tokens (no room for the 1 output token), which
        # the hf scorer does score: such a text goes without its last token, and that token's
        # log-prob comes from the sampling step's log-probs at the last prompt position.
        at_limit = {i for i in chunk if len(encoded[i]) == max_len}
        prompts = [{"prompt_token_ids": encoded[i][:-1] if i in at_limit else encoded[i]} for i in chunk]
        chunk_params = [_params(vllm, with_vocab_stats, encoded[i][-1]) if i in at_limit else params for i in chunk]
        bar = reporting_bar_factory(reporter, SCORE_STAGE, len(todo), "texts", offset=done)
        try:
            outputs = llm.generate(prompts, chunk_params, use_tqdm=bar)
        except VLLMValidationError as exc:  # e.g. a text longer than max_model_len
            raise InvalidSpec(f"vllm rejected the request: {exc}", field="engine") from None
        for i, out in zip(chunk, outputs):
            results[i] = _from_output(texts[i], encoded[i], out, vocab_size, with_vocab_stats, i in at_limit)
        done += len(chunk)
        reporter.update(SCORE_STAGE, done, len(todo), f"{done}/{len(todo)} texts")
    tokens = sum(len(encoded[i]) - 1 for i in todo)
    seconds = time.perf_counter() - started
    log.info("vllm scoring: %d texts, %d tokens in %.2fs (%.0f tok/s, vocab stats %s)", len(todo), tokens, seconds,
             tokens / seconds if seconds > 0 else 0.0, with_vocab_stats)
    return [results[i] for i in range(len(texts))]


def _chunks(todo: list[int], encoded: list[list[int]], entries_per_token: int) -> list[list[int]]:
    if not entries_per_token:
        return [todo] if todo else []
    chunks: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i in todo:
        cost = (len(encoded[i]) - 1) * entries_per_token
        if current and size + cost > _VOCAB_ENTRIES_PER_CHUNK:
            chunks.append(current)
            current, size = [], 0
        current.append(i)
        size += cost
    if current:
        chunks.append(current)
    return chunks


def _params(vllm: Any, with_vocab_stats: bool, last_token: int | None) -> Any:
    """`prompt_logprobs` of every prompt token (plus, with `last_token`, the sampling step's
    log-prob of that token); with vocab stats, of the whole vocabulary at each position."""
    sampled: dict[str, Any] = {}
    if last_token is not None:
        sampled = {"logprobs": -1} if with_vocab_stats else {"logprob_token_ids": [last_token]}
    return vllm.SamplingParams(
        max_tokens=1,
        temperature=0.0,
        prompt_logprobs=-1 if with_vocab_stats else 0,
        detokenize=False,
        flat_logprobs=True,  # flat lists: far fewer Python objects than dict-per-token (5x faster at -1)
        **sampled,
    )


def _from_output(text: str, ids: list[int], out: Any, vocab_size: int, with_vocab_stats: bool,
                 last_from_sample: bool) -> TokenLogProbs:
    """Flat prompt log-probs -> arrays. Each scored position holds the actual next token first,
    then (with vocab stats) all `vocab_size` tokens by rank; position 0 holds nothing."""
    prompt = ids[:-1] if last_from_sample else ids
    plp = out.prompt_logprobs
    if list(out.prompt_token_ids) != list(prompt) or plp is None or len(plp) != len(prompt):
        raise RuntimeError(f"vllm returned prompt log-probs for other tokens than it was given ({text[:40]!r})")
    n = len(prompt) - 1
    width = vocab_size + 1 if with_vocab_stats else 1
    values = np.asarray(plp.logprobs, dtype=np.float64)
    if values.size != n * width:
        raise RuntimeError(f"vllm returned {values.size} prompt log-probs for {n} positions x {width}")
    values = values.reshape(n, width)
    if not np.array_equal(np.asarray(plp.token_ids, dtype=np.int64).reshape(n, width)[:, 0], prompt[1:]):
        raise RuntimeError("vllm prompt log-probs are not ordered like the prompt tokens")
    target, vocab = values[:, 0], values[:, 1:]
    if last_from_sample:
        last, last_vocab = _last_position(out, ids[-1], vocab_size, with_vocab_stats)
        target = np.append(target, last)
        vocab = np.vstack([vocab, last_vocab[None, :]]) if with_vocab_stats else vocab
    result = _result(text, ids, target, with_vocab_stats)
    if not with_vocab_stats:
        return result
    mu, sigma = _vocab_stats(vocab)
    return TokenLogProbs(result.text, result.token_ids, result.logprobs, mu, sigma)


def _last_position(out: Any, token: int, vocab_size: int, with_vocab_stats: bool) -> tuple[float, np.ndarray]:
    """The sampling step's log-probs: the sampled token first, then the requested token, or
    (vocab stats) the whole vocabulary by rank."""
    sample = out.outputs[0].logprobs
    if sample is None or len(sample) != 1:
        raise RuntimeError("vllm returned no sampling log-probs for a text at max_model_len")
    token_ids = np.asarray(sample.token_ids, dtype=np.int64)
    values = np.asarray(sample.logprobs, dtype=np.float64)
    hits = np.flatnonzero(token_ids[1:] == token)
    if not hits.size or (with_vocab_stats and values.size != vocab_size + 1):
        raise RuntimeError("vllm sampling log-probs do not hold the text's last token")
    return float(values[1 + hits[0]]), values[1:]


def _vocab_stats(logp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean/std of log p over the vocabulary (rows = positions): `_token_stats`'s centred formula."""
    probs = np.exp(logp)
    safe = np.maximum(logp, _LOGP_FLOOR)
    mu = (probs * safe).sum(-1)
    sigma = np.sqrt((probs * np.square(safe - mu[:, None])).sum(-1))
    return mu, sigma


def _result(text: str, ids: list[int], logp: np.ndarray, with_vocab_stats: bool) -> TokenLogProbs:
    if len(ids) < 2:
        log.warning("text of %d token(s) has no next-token log-probs; its scores will be nan", len(ids))
    stats = np.zeros(0) if with_vocab_stats else None
    return TokenLogProbs(text, np.asarray(ids, dtype=np.int64), logp, stats, stats)
