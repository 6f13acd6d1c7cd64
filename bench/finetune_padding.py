"""Fine-tuning: genleak's dynamic padding vs the paper's pad-every-example-to-max_length.

Same lab data (the demo's 'original' condition: 300 prompt + continuation e-mails), same LoRA
(the demo's r=64 all-linear), same batch size, epochs and optimizer steps; only how batches are
padded (and ordered) differs. Three runs:
- genleak: dynamic padding to the longest in each batch + length-grouped batches (the default),
- dynamic, shuffled: dynamic padding alone (same batch order as the paper run),
- pad to max_length: the paper's HF `padding="max_length"` (the finetuner's `collate` swapped for
  one that pads to max_length; pad positions are masked and carry no loss, as in HF).
Useful tokens/s counts real (non-pad) tokens only. Examples are truncated at 256 tokens, the lab
target's context; the paper run pads to that, and (sensitivity) to 512, a common HF script
max_length. The demo's own max_length, 2048, is past the model's positions. Target: >= 3x, same
final loss.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import common

MAX_LENGTH = 256


def _pad_to_max_collate(max_length: int):
    from genleak.finetuner import data

    def collate(sequences, pad_id):
        # the real collate, then widened to max_length with masked, unlabelled padding
        batch = data.collate(sequences, pad_id)
        extra = max_length - batch["input_ids"].shape[1]
        import torch.nn.functional as F

        return {
            "input_ids": F.pad(batch["input_ids"], (0, extra), value=pad_id),
            "attention_mask": F.pad(batch["attention_mask"], (0, extra), value=0),
            "labels": F.pad(batch["labels"], (0, extra), value=data.IGNORE_INDEX),
        }

    return collate


def run(model_dir: Path, records: list[dict], out_dir: Path, epochs: int, group_by_length: bool,
        pad_to: int | None) -> dict:
    from genleak.core.progress import NULL_REPORTER
    from genleak.finetuner import loop
    from genleak.finetuner.train import finetune

    spec = {
        "method": "lora",
        "method_config": {"r": 64, "lora_alpha": 16, "lora_dropout": 0.05, "target_modules": "all-linear"},
        "train": {"epochs": epochs, "learning_rate": 1e-3, "batch_size": 8, "max_length": MAX_LENGTH,
                  "group_by_length": group_by_length, "save_every_epoch": False, "save_merged": False,
                  "save_train_state": False},
        "data": {"format": "prompt_continuation"},
    }
    real_collate = loop.collate
    if pad_to:
        loop.collate = _pad_to_max_collate(pad_to)
    try:
        result = finetune(model_dir, records, spec, out_dir, NULL_REPORTER)
    finally:
        loop.collate = real_collate
    summary = result.metrics.summary()
    summary["epoch_losses"] = [e.mean_loss for e in result.metrics.epochs]
    summary["steps"] = sum(e.steps for e in result.metrics.epochs)
    return summary


def main() -> None:
    args = common.parse_args(__doc__)
    epochs = 1 if args.quick else 2
    with tempfile.TemporaryDirectory(prefix="bench-ft-") as tmp:
        world = common.lab_world(Path(tmp), roles=("target",))
        lines = (world["datasets"] / "prompts" / "data.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines]
        if args.quick:
            records = records[:96]
        run(world["target"], records[:16], Path(tmp) / "warm", 1, True, None)  # warm-up, untimed
        runs = {
            "genleak (dynamic + length-grouped)": (True, None),
            "dynamic padding, shuffled": (False, None),
            "pad to max_length (paper)": (False, MAX_LENGTH),
            "pad to 512 (paper, sensitivity)": (False, 512),
        }
        results = {name: run(world["target"], records, Path(tmp) / f"run{i}", epochs, *flags)
                   for i, (name, flags) in enumerate(runs.items())}

    paper = results["pad to max_length (paper)"]
    rows = []
    for name, s in results.items():
        rows.append([name, s["steps"], s["useful_tokens"], s["padded_tokens"], s["useful_fraction"], s["train_s"],
                     s["useful_tokens_per_s"], s["useful_tokens_per_s"] / paper["useful_tokens_per_s"],
                     s["final_loss"]])
    common.print_table(f"Fine-tuning: {len(records)} lab e-mails, LoRA r=64, batch 8, {epochs} epoch(s)",
                       ["run", "steps", "useful tok", "computed tok", "useful share", "train s", "useful tok/s",
                        "x paper", "final loss"], rows)
    ours = results["genleak (dynamic + length-grouped)"]
    ratio = ours["useful_tokens_per_s"] / paper["useful_tokens_per_s"]
    ratio_512 = ours["useful_tokens_per_s"] / results["pad to 512 (paper, sensitivity)"]["useful_tokens_per_s"]
    same_order_diff = abs(results["dynamic padding, shuffled"]["final_loss"] - paper["final_loss"])
    print(f"\nuseful tokens/s, genleak vs pad-to-max: {ratio:.1f}x (target >= 3x: {common.verdict(ratio, 3)}); "
          f"vs pad to 512: {ratio_512:.1f}x")
    print(f"final loss: genleak {ours['final_loss']:.4f} vs paper {paper['final_loss']:.4f} "
          f"(same batch order, only padding differs: |diff| = {same_order_diff:.2e})")
    common.write_json("finetune_padding", {
        "examples": len(records), "epochs": epochs, "max_length": MAX_LENGTH, "runs": results,
        "speedup_useful_tokens_per_s": ratio, "speedup_vs_pad_to_512": ratio_512, "target": ">= 3x, same final loss within noise",
        "final_loss_diff_same_order": same_order_diff,
    }, args.quick)


if __name__ == "__main__":
    main()
