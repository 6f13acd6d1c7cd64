"""MIA scoring: genleak's shared-forward scoring vs per-sample loops, on the same texts and models.

genleak (`score_with_extras`): one batched, length-sorted forward per model over all texts
(target: texts + lowercased texts; reference: texts), then every attack from those arrays.
Baselines, same attacks (LOSS, zlib, Min-K%, Min-K%++, lowercase, reference), batch size 1:
- per-attack: each attack runs its own forward(s) for every text (LLM-PBE, open-unlearning's
  `run_mia_attack`): 8 forwards per text (lowercase and reference need two).
- per-sample shared: MIMIR's run loop, one target forward per text shared by the target-only
  attacks, plus one lowercase and one reference forward: 3 forwards per text, unbatched.
Target >= 5x over the per-attack loop. Scores must agree, or the speed-up would mean nothing.
"""

from __future__ import annotations

import math
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

import common

ATTACKS = {"loss": {}, "zlib": {}, "min_k": {"k": 0.2}, "min_k_plus_plus": {"k": 0.2}, "lowercase": {},
           "reference": {}}
MAX_TOKENS = 256  # the lab's pretraining max_length: no lab e-mail is cut


# --- the baselines: written out plainly, as the per-attack tools do it -----------------------


class PerSampleModel:
    """One HF model scored one text at a time (batch 1), the way MIMIR / LLM-PBE call it."""

    def __init__(self, model_dir: Path):
        import torch
        import transformers

        from genleak.compute.device import pick_device

        self.torch = torch
        self.device = pick_device()  # where genleak's scorer runs too (a GPU when one is visible)
        self.tok = transformers.AutoTokenizer.from_pretrained(model_dir)
        self.model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        self.model.to(self.device)
        self.forwards = 0

    def token_logprobs(self, text: str, vocab_stats: bool = False):
        """Per-token log p of the text (and mu/sigma over the vocabulary for Min-K%++)."""
        torch = self.torch
        ids = torch.tensor([self.tok(text, truncation=True, max_length=MAX_TOKENS)["input_ids"]], device=self.device)
        self.forwards += 1
        with torch.no_grad():
            logp = torch.log_softmax(self.model(ids).logits[0, :-1].float(), dim=-1)
        lp = logp.gather(-1, ids[0, 1:, None]).squeeze(-1)
        if not vocab_stats:
            return lp.double().cpu().numpy(), None, None
        probs = logp.exp()
        mu = (probs * logp).sum(-1)
        sigma = (probs * (logp - mu[:, None]).square()).sum(-1).sqrt()
        return lp.double().cpu().numpy(), mu.double().cpu().numpy(), sigma.double().cpu().numpy()


def _lowest_mean(values: np.ndarray, k: float) -> float:
    return float(np.mean(np.sort(values)[: max(1, math.floor(values.size * k))]))


def _scores_from(text: str, lp, mu, sigma, low_lp, ref_lp) -> dict[str, float]:
    """The six attacks' formulas (higher = member), from already computed log-probs."""
    out = {}
    if lp is not None:
        out["loss"] = lp.mean()
        out["zlib"] = lp.mean() / len(zlib.compress(text.encode()))
        out["min_k"] = _lowest_mean(lp, 0.2)
    if mu is not None:
        out["min_k_plus_plus"] = _lowest_mean((lp - mu) / np.maximum(sigma, 1e-6), 0.2)
    if low_lp is not None:
        out["lowercase"] = -(lp.mean() / low_lp.mean())
    if ref_lp is not None:
        out["reference"] = lp.mean() - ref_lp.mean()
    return out


def per_attack_loop(target: PerSampleModel, ref: PerSampleModel, texts: list[str]) -> dict[str, np.ndarray]:
    """Every attack is its own pass over the data and runs its own model calls per text."""
    scores = {}
    for attack in ATTACKS:
        row = []
        for text in texts:
            if attack == "min_k_plus_plus":
                lp, mu, sigma = target.token_logprobs(text, vocab_stats=True)
                row.append(_scores_from(text, lp, mu, sigma, None, None)[attack])
            elif attack == "lowercase":
                lp, low = target.token_logprobs(text)[0], target.token_logprobs(text.lower())[0]
                row.append(_scores_from(text, lp, None, None, low, None)[attack])
            elif attack == "reference":
                lp, ref_lp = target.token_logprobs(text)[0], ref.token_logprobs(text)[0]
                row.append(_scores_from(text, lp, None, None, None, ref_lp)[attack])
            else:
                row.append(_scores_from(text, target.token_logprobs(text)[0], None, None, None, None)[attack])
        scores[attack] = np.array(row)
    return scores


def per_sample_shared(target: PerSampleModel, ref: PerSampleModel, texts: list[str]) -> dict[str, np.ndarray]:
    """MIMIR's loop: per text, one target forward feeds every target-only attack."""
    rows = []
    for text in texts:
        lp, mu, sigma = target.token_logprobs(text, vocab_stats=True)
        low = target.token_logprobs(text.lower())[0]
        ref_lp = ref.token_logprobs(text)[0]
        rows.append(_scores_from(text, lp, mu, sigma, low, ref_lp))
    return {a: np.array([r[a] for r in rows]) for a in ATTACKS}


# --- genleak -------------------------------------------------------------------------------------


def genleak_scoring(target_dir: Path, ref_dir: Path, texts: list[str]) -> dict[str, np.ndarray]:
    from genleak.attacker.mia import run_attacks
    from genleak.attacker.mia.evaluate import score_with_extras
    from genleak.engines.base import EngineConfig

    # the attacker service's default hf engine (batch 16, float32 scoring); Min-K%++'s vocabulary
    # stats only for the target texts (the lowercase and reference passes skip them)
    target, extras = score_with_extras(target_dir, texts, ATTACKS, EngineConfig(name="hf"), MAX_TOKENS, ref_dir)
    return run_attacks(ATTACKS, target, extras)


def main() -> None:
    args = common.parse_args(__doc__)
    import torch

    torch.set_num_threads(2)  # both engines get the machine's 2 cores
    n_per_side = 60 if args.quick else 300
    with tempfile.TemporaryDirectory(prefix="bench-mia-") as tmp:
        # the lab target (GPT-NeoX) is attacked; the lab generator's shape (Llama) serves as reference model
        world = common.lab_world(Path(tmp), roles=("target", "generator"))
        splits = world["splits"]
        texts = [d.text for d in splits.members[:n_per_side]] + [d.text for d in splits.nonmembers[:n_per_side]]
        target, ref = PerSampleModel(world["target"]), PerSampleModel(world["generator"])
        n_tokens = sum(len(target.tok(t, truncation=True, max_length=MAX_TOKENS)["input_ids"]) for t in texts)
        genleak_scoring(world["target"], world["generator"], texts[:8])  # warm-up: first-call costs out of timing
        per_sample_shared(target, ref, texts[:8])
        target.forwards = ref.forwards = 0

        seconds, results, forwards = {}, {}, {}
        runs = {
            "genleak shared forward": lambda: genleak_scoring(world["target"], world["generator"], texts),
            "per-sample shared (MIMIR)": lambda: per_sample_shared(target, ref, texts),
            "per-attack loop (LLM-PBE)": lambda: per_attack_loop(target, ref, texts),
        }
        for name, run in runs.items():
            before = target.forwards + ref.forwards
            started = time.perf_counter()
            results[name] = run()
            seconds[name] = time.perf_counter() - started
            forwards[name] = target.forwards + ref.forwards - before

    ours = results["genleak shared forward"]
    max_diff = {a: float(max(np.max(np.abs(ours[a] - r[a])) for r in results.values())) for a in ATTACKS}
    base = seconds["genleak shared forward"]
    rows = []
    for name, s in seconds.items():
        fwd = "3 per text, batch 16" if name.startswith("genleak") else f"{forwards[name] / len(texts):.0f} per text"
        rows.append([name, fwd, s, len(texts) / s, s / base])
    common.print_table(f"MIA scoring: {len(texts)} lab texts ({n_tokens:,} tokens), 6 attacks",
                       ["scorer", "model calls", "seconds", "texts/s", "time / genleak's"], rows)
    ratio = seconds["per-attack loop (LLM-PBE)"] / base
    print(f"\nspeed-up vs per-attack loop: {ratio:.1f}x (target >= 5x: {common.verdict(ratio, 5)}); "
          f"vs MIMIR per-sample: {seconds['per-sample shared (MIMIR)'] / base:.1f}x")
    print(f"max |score difference| across scorers: {max(max_diff.values()):.2e}")
    common.write_json("mia_scoring", {
        "texts": len(texts), "tokens": n_tokens, "attacks": list(ATTACKS), "seconds": seconds,
        "model_calls": forwards, "speedup_vs_per_attack": ratio,
        "speedup_vs_per_sample_shared": seconds["per-sample shared (MIMIR)"] / base,
        "target": ">= 5x vs per-attack loop", "max_abs_score_diff": max_diff,
    }, args.quick)


if __name__ == "__main__":
    main()
