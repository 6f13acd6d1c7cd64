"""Every headline ratio of the last run, from bench/results/*.json, in one table (run_all ends with it)."""

from __future__ import annotations

import json
import sys

import common


def load(name: str, quick: bool) -> dict | None:
    path = common.RESULTS / f"{name}{'.quick' if quick else ''}.json"
    return json.loads(path.read_text()) if path.exists() else None


def rows(quick: bool) -> list[list]:
    out = []
    if r := load("mia_scoring", quick):
        out.append(["MIA scoring", "genleak vs per-attack per-sample loop", f"{r['speedup_vs_per_attack']:.2f}x",
                    ">= 5x", r["speedup_vs_per_attack"] >= 5])
        out.append(["MIA scoring", "genleak vs MIMIR per-sample shared", f"{r['speedup_vs_per_sample_shared']:.2f}x",
                    "-", "-"])
    if r := load("finetune_padding", quick):
        runs = r["runs"]
        ours, paper = runs["genleak (dynamic + length-grouped)"], runs["pad to max_length (paper)"]
        out.append(["fine-tuning", "useful tok/s vs pad to max_length=256", f"{r['speedup_useful_tokens_per_s']:.2f}x",
                    ">= 3x", r["speedup_useful_tokens_per_s"] >= 3])
        out.append(["fine-tuning", "useful tok/s vs pad to 512", f"{r['speedup_vs_pad_to_512']:.2f}x", "-", "-"])
        out.append(["fine-tuning", "final loss genleak / paper", f"{ours['final_loss']:.4f} / {paper['final_loss']:.4f}",
                    "same within noise", abs(ours["final_loss"] - paper["final_loss"]) < 0.05])
    if r := load("generation", quick):
        for model, m in r["models"].items():
            if "service_overhead_same_run" in m:
                out.append(["generation", f"{model}: service over its vLLM call (same run)",
                            f"{m['service_overhead_same_run']:+.1%}", "<= +5%", m["service_overhead_same_run"] <= 0.05])
            out.append(["generation", f"{model}: service vs raw vLLM process", f"{m['service_overhead']:+.1%}",
                        "<= +5%", m["service_overhead"] <= 0.05])
            out.append(["generation", f"{model}: vLLM / HF tok/s", f"{m['vllm_vs_hf_tokens_per_s']:.2f}x",
                        ">= 2x" if "135M" in model else "-",
                        m["vllm_vs_hf_tokens_per_s"] >= 2 if "135M" in model else "-"])
    if r := load("multi_lora", quick):
        out.append(["extraction", "multi-LoRA vs engine per checkpoint, prompts/s", f"{r['speedup_overall']:.2f}x",
                    "report", "-"])
    if r := load("store_s3", quick):
        for label, c in r["checkpoints"].items():
            out.append(["store", f"{label}: S3 up / down vs local copy",
                        f"{c['s3_up_vs_copy']:.1f}x / {c['s3_down_vs_copy']:.1f}x", "report", "-"])
            out.append(["store", f"{label}: S3 up / down vs bare minio",
                        f"{c['s3_up_vs_bare_minio']:.2f}x / {c['s3_down_vs_bare_minio']:.2f}x", "report", "-"])
    for name in ("e2e", "e2e_demo"):
        if r := load(name, quick):
            out.append(["end to end", f"{r['spec']}: wall share outside model compute",
                        f"{r['outside_compute_share']:.1%}", "< 5%", r["outside_compute_share"] < 0.05])
    return out


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    table = [[a, b, c, d, "yes" if e is True else ("NO" if e is False else e)] for a, b, c, d, e in rows(quick)]
    common.print_table(f"Summary of bench/results ({'quick' if quick else 'full'} run)",
                       ["bench", "ratio", "measured", "target", "met"], table)


if __name__ == "__main__":
    main()
