"""Fine-tuning on the device at hand: genleak vs the paper's pad-every-example-to-2,048 fp16 setup.

genleak: dynamic padding, length-grouped batches, mixed precision (fp16 with loss scaling on a GPU).
The paper's setup: every example padded to max_length 2,048 (HF `padding="max_length"`), fp16, shuffled
batches. Same LoRA (r=64, all-linear), batch size, steps and data (the lab's prompt + continuation
e-mails); useful tokens/s counts real (non-pad) tokens only, so the ratio is how much sooner genleak
finishes the same epoch.

The model is Pythia-160m-shaped (GPT-NeoX, width 768, 12 layers, 12 heads, 2,048 positions) with random
weights and the lab tokenizer: throughput depends on shapes, not on what the weights learned, and nothing
is downloaded. Without a GPU (the CPU fallback) a 2-layer width-128 model pads to 512 in bf16, to prove
the path runs; its ratio is not the GPU's.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import common
from finetune_padding import _pad_to_max_collate

GPU_SHAPE = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
CPU_SHAPE = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 512}


def build_model(lab_target: Path, dest: Path, shape: dict, positions: int) -> Path:
    import transformers

    from genleak.finetuner.loading import copy_tokenizer_files

    tokenizer = transformers.AutoTokenizer.from_pretrained(lab_target)
    config = transformers.GPTNeoXConfig(vocab_size=-(-len(tokenizer) // 128) * 128, max_position_embeddings=positions,
                                        rotary_pct=0.25, bos_token_id=tokenizer.bos_token_id,
                                        eos_token_id=tokenizer.eos_token_id, **shape)
    transformers.GPTNeoXForCausalLM(config).save_pretrained(dest)
    copy_tokenizer_files(lab_target, dest)
    return dest


def run(model_dir: Path, records: list[dict], out_dir: Path, precision: str, pad_to: int | None,
        max_length: int) -> dict:
    from genleak.core.progress import NULL_REPORTER
    from genleak.finetuner import loop
    from genleak.finetuner.train import finetune

    spec = {
        "method": "lora",
        "method_config": {"r": 64, "lora_alpha": 16, "lora_dropout": 0.05, "target_modules": "all-linear"},
        "train": {"epochs": 1, "learning_rate": 1e-4, "batch_size": 8, "max_length": max_length,
                  "group_by_length": pad_to is None, "mixed_precision": precision, "save_every_epoch": False,
                  "save_merged": False, "save_train_state": False},
        "data": {"format": "prompt_continuation"},
    }
    real_collate = loop.collate
    if pad_to:
        loop.collate = _pad_to_max_collate(pad_to)
    try:
        result = finetune(model_dir, records, spec, out_dir, NULL_REPORTER)
    finally:
        loop.collate = real_collate
    return {**result.metrics.summary(), "compute": result.compute.model_dump(mode="json")}


def main() -> None:
    args = common.parse_args(__doc__)
    import torch

    on_gpu = torch.cuda.is_available()
    shape, pad_to, precision = (GPU_SHAPE, 2048, "fp16") if on_gpu else (CPU_SHAPE, 512, "bf16")
    with tempfile.TemporaryDirectory(prefix="bench-ftgpu-") as tmp:
        world = common.lab_world(Path(tmp), roles=("target",))
        lines = (world["datasets"] / "prompts" / "data.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines][: 64 if args.quick else None]
        model = build_model(world["target"], Path(tmp) / "model", shape, pad_to)
        run(model, records[:16], Path(tmp) / "warm", precision, None, pad_to)  # warm-up (kernels, allocator)
        results = {
            "genleak (dynamic + length-grouped)": run(model, records, Path(tmp) / "ours", precision, None, pad_to),
            f"pad to {pad_to} (paper)": run(model, records, Path(tmp) / "paper", precision, pad_to, pad_to),
        }
    ours, paper = results.values()
    ratio = ours["useful_tokens_per_s"] / paper["useful_tokens_per_s"]
    device = ours["compute"]["device_name"] or ours["compute"]["device_type"]
    rows = [[name, s["useful_tokens"], s["padded_tokens"], s["useful_fraction"], s["train_s"],
             s["useful_tokens_per_s"], s["compute"]["peak_memory_bytes"] / 2**30, s["final_loss"]]
            for name, s in results.items()]
    common.print_table(f"Fine-tuning on {device} ({ours['compute']['precision']}): {len(records)} lab e-mails, "
                       f"LoRA r=64, batch 8, 1 epoch", ["run", "useful tok", "computed tok", "useful share",
                                                        "train s", "useful tok/s", "peak GiB", "final loss"], rows)
    print(f"\nuseful tokens/s, genleak vs pad-to-{pad_to}: {ratio:.1f}x on {ours['compute']['device_type']}")
    common.write_json("finetune_gpu" if on_gpu else "finetune_gpu_cpu_fallback", {
        "examples": len(records), "model_shape": shape, "pad_to": pad_to, "precision": precision,
        "runs": results, "speedup_useful_tokens_per_s": ratio}, args.quick)


if __name__ == "__main__":
    main()
