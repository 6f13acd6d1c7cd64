"""Neighbourhood attack (Mattern et al. 2023; MIMIR's `ne`): a text against its neighbours.

A masked language model proposes neighbours of each text: texts with a few tokens swapped for
tokens the masked LM finds almost as likely. A member's loss under the target is lower than its
neighbours' (the model memorised this exact wording); a non-member's is about the same. Score =
mean log-prob of the text minus the mean of its neighbours' mean log-probs (MIMIR: loss minus the
neighbours' mean loss, negated here so that higher = member).

Neighbours follow MIMIR's BERT procedure and defaults: for every token position, the full input
embedding of that token goes through dropout (p 0.7, as MIMIR: its dropout module is in training
mode) and the masked LM scores the vocabulary there (MIMIR passes embeddings that already hold
positions as `inputs_embeds`, so they are added twice; kept, so scores compare); the top 6
tokens other than the original are candidates, each scored p / (1 - p_original). Strategy
"random" (the paper's config): 1,000 draws of `pct_swap` (5 %) of the positions, each taking its
best candidate, scored by the sum; the 25 best draws become neighbours, swapped into the
original text at the tokens' character offsets. "deterministic": the 25 best single swaps.
Deviations, on purpose: special tokens are never swapped (MIMIR may swap [SEP], which inserts a
word at the start), at least one position is swapped (MIMIR crashes on texts under 20 tokens),
and the dropout and draws are seeded per text (the seed and the text's hash), so a text gets the same
neighbours alone, in a batch or in a shard.

Cost: one masked-LM forward per token of each text (batched, on a GPU when present), then the target scores
texts x n_neighbours extra texts in the same scoring pass; both show in the job's progress. Neighbours
depend on the text, the masked LM and the knobs only, never on the target, so they are cached per
text (`set_neighbour_cache_dir`: the attacker keeps them under its cache folder): an audit that scores
the base model and every checkpoint perturbs each text once, and jobs that need the same neighbours at
the same time wait for the first one instead of repeating it.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np
from pydantic import Field

from genleak.attacker.mia.logprobs import TokenLogProbs
from genleak.attacker.mia.registry import register_attack
from genleak.core.hashing import sha256_bytes, sha256_file
from genleak.core.loading import MODEL_LOAD_LOCK
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.core.specs import Spec

log = logging.getLogger(__name__)

NEIGHBOURS_STAGE = "neighbours"
NEIGHBOURS_CACHE_FOLDER = "neighbours"
# Knobs that change which neighbours a text gets (batch_size does not).
_NEIGHBOUR_KNOBS = ("n_neighbours", "strategy", "pct_swap", "dropout", "candidates", "trials", "max_tokens", "seed")


class _NeighbourCache:
    """Neighbours as JSON files, one per (masked LM content, knobs, text), plus a lock per key."""

    def __init__(self) -> None:
        self.directory: Path | None = None
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def folder(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / key

    @staticmethod
    def read(folder: Path | None, text_key: str) -> list[str] | None:
        if folder is None or not (folder / f"{text_key}.json").is_file():
            return None
        try:
            return json.loads((folder / f"{text_key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # a damaged entry is recomputed

    @staticmethod
    def write(folder: Path | None, text_key: str, neighbours: list[str]) -> None:
        if folder is None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{text_key}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(neighbours, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, folder / f"{text_key}.json")  # readers see a whole file or none


_CACHE = _NeighbourCache()


def set_neighbour_cache_dir(path: Path | None) -> None:
    """Keep neighbours as files here (they survive restarts); None: no cache."""
    _CACHE.directory = Path(path) if path is not None else None


def _cache_key(mask_model_dir: Path, config: "NeighbourhoodConfig") -> str:
    files = sorted(p for p in Path(mask_model_dir).iterdir() if p.is_file())
    digest = [f"{p.name}:{sha256_file(p)}" for p in files]
    knobs = {k: getattr(config, k) for k in _NEIGHBOUR_KNOBS}
    return sha256_bytes(json.dumps([digest, knobs], sort_keys=True).encode())[:32]


class NeighbourhoodConfig(Spec):
    mask_model: str = Field(min_length=1, description="Masked LM that proposes neighbours (a BERT-style model "
                                                      "folder or model URI; MIMIR: bert-base-uncased)")
    n_neighbours: int = Field(25, ge=1, le=1000, description="Neighbours per text (MIMIR/the paper: 25)")
    strategy: Literal["random", "deterministic"] = Field("random", description="random: swap pct_swap of the "
                                                         "positions per neighbour; deterministic: one swap each")
    pct_swap: float = Field(0.05, gt=0, le=1, description="Share of tokens swapped per neighbour (MIMIR: 0.05)")
    dropout: float = Field(0.7, ge=0, lt=1, description="Dropout on the probed token's embedding (MIMIR: 0.7)")
    candidates: int = Field(6, ge=2, le=100, description="Top tokens considered per position, the original "
                                                         "excluded (MIMIR: 6)")
    trials: int = Field(1000, ge=1, le=100_000, description="Random draws per text (MIMIR: 1000)")
    max_tokens: int = Field(512, ge=4, description="Masked-LM tokens per text; later text is never swapped")
    batch_size: int = Field(32, ge=1, description="Masked-LM forwards per batch")
    seed: int = Field(0, description="Seed of the dropout and the draws")


def neighbourhood_score(target: TokenLogProbs, extras: Mapping[str, Any], config: NeighbourhoodConfig) -> float:
    neighbours = [n.mean_logprob for n in extras["neighbours"] if n.logprobs.size]
    if not neighbours:
        return float("nan")
    return target.mean_logprob - float(np.mean(neighbours))


def generate_neighbours(mask_model_dir: Path, texts: list[str], config: NeighbourhoodConfig,
                        reporter: Reporter = NULL_REPORTER) -> list[list[str]]:
    """`config.n_neighbours` neighbours of every text (fewer for texts with too few candidates), from the
    cache where an earlier job made them."""
    key = _cache_key(mask_model_dir, config)
    folder = _CACHE.folder(key)
    with _CACHE.lock(key):
        text_keys = [sha256_bytes(text.encode())[:32] for text in texts]
        out: list[list[str] | None] = [_CACHE.read(folder, k) for k in text_keys]
        missing = [i for i, found in enumerate(out) if found is None]
        if missing:
            made = _generate(mask_model_dir, [texts[i] for i in missing], config, reporter, len(texts) - len(missing),
                             len(texts))
            for i, neighbours in zip(missing, made):
                out[i] = neighbours
                _CACHE.write(folder, text_keys[i], neighbours)
        log.info("neighbourhood: %d of %d texts' neighbours from the cache", len(texts) - len(missing), len(texts))
        reporter.update(NEIGHBOURS_STAGE, len(texts), len(texts), f"{len(texts)}/{len(texts)} texts "
                        f"({len(texts) - len(missing)} cached)")
        return [n for n in out if n is not None]


def _generate(mask_model_dir: Path, texts: list[str], config: NeighbourhoodConfig, reporter: Reporter,
              done: int, total: int) -> list[list[str]]:
    import torch
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(str(mask_model_dir))
    if not tokenizer.is_fast:
        raise ValueError("the neighbourhood attack needs a fast tokenizer (character offsets)")
    with MODEL_LOAD_LOCK:
        model = transformers.AutoModelForMaskedLM.from_pretrained(str(mask_model_dir), use_safetensors=True).eval()
    # One forward per token of every text: on the GPU when there is one (the dropout draws stay on the CPU's
    # seeded generator, so neighbours do not depend on the device's RNG).
    model.to("cuda" if torch.cuda.is_available() else "cpu")
    embeddings = model.base_model.embeddings
    out = []
    for i, text in enumerate(texts):
        reporter.check()
        # Seeded per text (seed, text hash): a text gets the same neighbours in any batch or shard.
        text_seed = int(sha256_bytes(f"{config.seed}\0{text}".encode())[:15], 16)
        generator = torch.Generator().manual_seed(text_seed)
        rng = np.random.default_rng(text_seed)
        encoded = tokenizer(text, truncation=True, max_length=config.max_tokens, return_offsets_mapping=True,
                            return_special_tokens_mask=True, return_tensors="pt")
        scored = _candidates(model, embeddings, generator, encoded, config, torch)
        out.append(_neighbours(text, tokenizer, encoded["offset_mapping"][0].tolist(), scored, config, rng))
        reporter.update(NEIGHBOURS_STAGE, done + i + 1, total, f"{done + i + 1}/{total} texts")
    return out


def _candidates(model: Any, embeddings: Any, generator: Any, encoded: Any,
                config: NeighbourhoodConfig, torch: Any) -> dict[int, list[tuple[int, float]]]:
    """position -> [(candidate token, score)] best first, for every swappable (non-special) position."""
    ids = encoded["input_ids"].to(model.device)
    positions = [p for p in range(1, ids.shape[1]) if not encoded["special_tokens_mask"][0, p]]
    found: dict[int, list[tuple[int, float]]] = {}
    with torch.no_grad():
        full = embeddings(input_ids=ids)  # word + position (+ type) embeddings, normalised
        for start in range(0, len(positions), config.batch_size):
            batch = positions[start : start + config.batch_size]
            probed = full.repeat(len(batch), 1, 1)
            for row, p in enumerate(batch):
                probed[row, p] = _dropout(probed[row, p], config.dropout, generator, torch)
            probs = torch.softmax(model(inputs_embeds=probed).logits, dim=-1)
            for row, p in enumerate(batch):
                original = int(ids[0, p])
                p_original = float(probs[row, p, original])
                top_p, top_ids = torch.topk(probs[row, p], config.candidates)
                denominator = (1 - 0.9) if p_original == 1 else (1 - p_original)
                found[p] = [(int(c), float(q) / denominator) for q, c in zip(top_p, top_ids) if int(c) != original]
    return found


def _dropout(vector: Any, p: float, generator: Any, torch: Any) -> Any:
    """torch's training-mode dropout (zero with probability p, scale the rest by 1/(1-p)), seeded."""
    if p == 0:
        return vector
    keep = (torch.rand(vector.shape, generator=generator) >= p).to(vector.device, vector.dtype)
    return vector * keep / (1 - p)


def _neighbours(text: str, tokenizer: Any, offsets: list[list[int]], scored: dict[int, list[tuple[int, float]]],
                config: NeighbourhoodConfig, rng: np.random.Generator) -> list[str]:
    positions = [p for p, cands in scored.items() if cands]
    if not positions:
        return []
    if config.strategy == "deterministic":
        singles = [((p, c), s) for p in positions for c, s in scored[p]]
        best = heapq.nlargest(config.n_neighbours, singles, key=lambda x: x[1])
        return [_swap(text, tokenizer, offsets, [swap]) for swap, _ in best]
    n_swap = min(len(positions), max(1, int(len(offsets) * config.pct_swap)))
    draws = []
    for _ in range(config.trials):
        chosen = rng.choice(positions, n_swap, replace=False)
        picks = [(int(p), scored[int(p)][0][0]) for p in chosen]
        draws.append((sum(scored[p][0][1] for p, _ in picks), picks))
    best = heapq.nlargest(config.n_neighbours, draws, key=lambda x: x[0])
    return [_swap(text, tokenizer, offsets, swaps) for _, swaps in best]


def _swap(text: str, tokenizer: Any, offsets: list[list[int]], swaps: list[tuple[int, int]]) -> str:
    """The text with each (position, token) swapped in at the position's character span."""
    pieces, end_prev = [], 0
    for position, token in sorted(swaps):
        start, end = offsets[position]
        pieces += [text[end_prev:start], tokenizer.decode([token]).replace("##", "")]
        end_prev = end
    return "".join(pieces) + text[end_prev:]


register_attack("ne", NeighbourhoodConfig, neighbourhood_score, needs=("neighbours",))
