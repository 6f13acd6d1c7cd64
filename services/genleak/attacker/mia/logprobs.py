"""Per-token log-probs of texts under a causal LM: the one shared input of every MIA attack.

Each text gets ONE forward pass per model (one per window for texts longer than the model's
context, as MIMIR scores them: `windows`); all attacks (loss, zlib, Min-K%, Min-K%++,
reference, lowercase) are then cheap functions of these arrays. torch/transformers (and
genleak.compute, which picks the device and pads the batches) are imported only inside
`score_texts_hf`, so attacks and metrics import without them. The model and each batch go to the
device (a GPU when one is visible), the results come back as CPU numpy arrays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from genleak.attacker.mia.windows import plan_windows, stitch, window_ids, windowed_count
from genleak.core.errors import InvalidSpec
from genleak.core.loading import MODEL_LOAD_LOCK
from genleak.core.progress import NULL_REPORTER, Reporter

log = logging.getLogger(__name__)

# log p below this contributes exactly 0 to mu/sigma (p = exp(-1e4) underflows), and clamping
# avoids 0 * -inf = nan for tokens the model gives probability 0.
_LOGP_FLOOR = -1e4


@dataclass(frozen=True)
class TokenLogProbs:
    """Log-probs of one text. `logprobs[i]` = log p(token_ids[i+1] | token_ids[:i+1]).

    `mu`/`sigma` (same length as `logprobs`) are the mean and std of log p(v) over the
    vocabulary under the model's own next-token distribution at that position (Min-K%++).
    """

    text: str
    token_ids: np.ndarray
    logprobs: np.ndarray
    mu: np.ndarray | None = None
    sigma: np.ndarray | None = None

    @property
    def mean_logprob(self) -> float:
        """Mean token log-prob (= -average NLL); nan for texts with fewer than 2 tokens."""
        return float(np.mean(self.logprobs)) if self.logprobs.size else float("nan")


def score_texts_hf(
    model_dir: Path,
    texts: list[str],
    batch_size: int = 16,
    max_length: int = 512,
    reporter: Reporter | None = None,
    dtype: str = "float32",
    trust_remote_code: bool = False,
    with_vocab_stats: bool | Sequence[bool] = True,
    max_model_len: int | None = None,
) -> list[TokenLogProbs]:
    """Log-probs of `texts` under the HF causal LM in `model_dir`, returned in input order.

    A text longer than the model's positions (capped by `max_model_len`) is scored in MIMIR's sliding
    windows (`windows`); to truncate instead, set `max_length` to the context.

    dtype "auto" scores in float32: scores are compared across models and engines, and
    bfloat16 logits move per-token log-probs by ~1e-2. `with_vocab_stats` (one flag, or one per
    text) asks for mu/sigma (Min-K%++): a softmax-weighted pass over the whole vocabulary at every
    position, most of the scoring time on small models, so texts that need no stats skip it.
    """
    try:
        import torch
        import transformers

        from genleak.compute.batching import chunks
        from genleak.compute.device import load_placement, pick_device
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("score_texts_hf needs torch and transformers: pip install 'genleak[hf]'") from exc
    reporter = reporter or NULL_REPORTER
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    torch_dtype = getattr(torch, scoring_dtype(dtype))
    device = pick_device()
    with MODEL_LOAD_LOCK:
        model = transformers.AutoModelForCausalLM.from_pretrained(
            model_dir, use_safetensors=True, dtype=torch_dtype, trust_remote_code=trust_remote_code,
            **load_placement(device),
        ).eval()
    model = model.to(device)
    context = model_context(model.config, max_model_len)
    encoded = encode_for_scoring(tokenizer, texts, max_length)
    windows = plan_windows(encoded, context)
    sequences = window_ids(encoded, windows)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    needs = [bool(with_vocab_stats)] * len(texts) if isinstance(with_vocab_stats, bool) else list(with_vocab_stats)
    window_needs = [needs[w.text] for w in windows]
    per_window: list[tuple | None] = [None] * len(sequences)
    # Length-sorted batches keep padding (wasted compute) small; right padding + attention mask
    # leaves each real token's positions and context exactly as in an unpadded pass. Windows with and
    # without stats are batched apart (then by length) so no batch pays for stats it drops.
    order = sorted(range(len(sequences)), key=lambda k: (window_needs[k], len(sequences[k])))
    done = 0
    for batch in chunks(order, batch_size):
        reporter.check()
        rows = _score_batch(model, [sequences[k] for k in batch], pad_id, torch, any(window_needs[k] for k in batch))
        for k, (logp, mu, sigma) in zip(batch, rows):
            per_window[k] = (logp, mu, sigma) if window_needs[k] else (logp, None, None)
        done += len(batch)
        reporter.update("score", done, len(order))
    if (long := windowed_count(windows)):
        log.info("%d of %d texts are longer than the model's %d positions: scored in %d windows (stride %d)",
                 long, len(texts), context, len(windows), context // 2)
    stitched = stitch(windows, per_window, len(texts))
    return [_make_result(texts[i], encoded[i], *stitched[i]) for i in range(len(texts))]


def scoring_dtype(dtype: str) -> str:
    """The dtype a scorer's math runs in: a reduced dtype asked by name, else ("auto") float32."""
    return dtype if dtype in ("bfloat16", "float16") else "float32"


def model_context(config: Any, max_model_len: int | None = None) -> int:
    """Positions the model was trained on (max_position_embeddings or its aliases), capped by max_model_len."""
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 1:
            return min(value, max_model_len) if max_model_len else value
    if max_model_len:
        return max_model_len
    raise InvalidSpec("the model config names no context length (max_position_embeddings); set engine.max_model_len",
                      field="engine.max_model_len")


def encode_for_scoring(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    """The token ids every scorer must use: the HF tokenizer's, special tokens included, truncated."""
    return [tokenizer(t, truncation=True, max_length=max_length)["input_ids"] for t in texts]


def _make_result(text: str, ids: list[int], logp: Any, mu: Any, sigma: Any) -> TokenLogProbs:
    if len(ids) < 2:
        log.warning("text of %d token(s) has no next-token log-probs; its scores will be nan", len(ids))
    return TokenLogProbs(text, np.asarray(ids, dtype=np.int64), logp, mu, sigma)


def _score_batch(model: Any, batch_ids: list[list[int]], pad_id: int, torch: Any, vocab_stats: bool = True) -> list[tuple]:
    """One forward pass over right-padded `batch_ids`; per-row (logp, mu, sigma) arrays (mu and
    sigma None without `vocab_stats`)."""
    from genleak.compute.batching import pad_right  # torch-side: imported with torch, not with this module

    input_ids, mask = (t.to(model.device) for t in pad_right(batch_ids, pad_id))
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=mask).logits[:, :-1].float()
        if vocab_stats:
            target, mu, sigma = _token_stats(logits, input_ids[:, 1:], torch)
        else:
            target = logits.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
            mu = sigma = None
    on_host = [None if t is None else t.cpu() for t in (target, mu, sigma)]  # one copy per batch off a GPU
    rows = []
    for row, ids in enumerate(batch_ids):
        n = max(len(ids) - 1, 0)
        rows.append(tuple(None if t is None else t[row, :n].double().numpy() for t in on_host))
    return rows


def _token_stats(logits: Any, next_ids: Any, torch: Any) -> tuple[Any, Any, Any]:
    """Target-token log-prob and the vocabulary mean/std of log p, from the same logits."""
    logp = torch.log_softmax(logits, dim=-1)
    target = logp.gather(-1, next_ids.unsqueeze(-1)).squeeze(-1)
    probs = logp.exp()
    safe = logp.clamp_min(_LOGP_FLOOR)
    mu = (probs * safe).sum(-1)
    # sqrt(sum p*logp^2 - mu^2) computed in the centred form sum p*(logp - mu)^2: same value,
    # but without the float32 cancellation that made sigma depend on the batch's padding.
    sigma = (probs * (safe - mu.unsqueeze(-1)).square()).sum(-1).sqrt()
    return target, mu, sigma
