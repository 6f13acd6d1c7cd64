"""Extraction attack: prompts/s for templates x temperatures x targets over several fine-tuned
checkpoints, vLLM multi-LoRA (one engine, the adapter chosen per request) vs one engine per
checkpoint (each epoch's merged model loaded into a fresh `LLM`, as genleak attacks today).

Model: the lab's Llama generator shape with one random LoRA adapter per "epoch" (r=64,
all-linear, the demo's method config; peft with non-zero init so every adapter changes the
outputs). The lab's GPT-NeoX target goes through vLLM's Transformers backend, whose LoRA
support is not what is measured here. Prompts: the paper's templates A-D rendered by genleak
for the lab's PII-eval people, temperatures {0.01, 0.2, 0.5, 1.0}, 15 new tokens, top-k 100
(the demo's attack; 2 checkpoints x 16 targets here, 8 targets and 2 temperatures with --quick:
vLLM's LoRA path on CPU generates ~25x slower than a merged model, and the demo's full 4 x 100
grid would take half an hour). Each side runs in its own process; engine start-up counts,
because avoiding one start per checkpoint is the point of multi-LoRA. No target in the issue.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

TEMPERATURES = (0.01, 0.2, 0.5, 1.0)
TEMPLATES = ("A", "B", "C", "D")
RANK = 64


def make_checkpoints(world: dict, n: int, out: Path) -> tuple[list[Path], list[Path]]:
    """n LoRA adapters on the lab generator, and the merged model of each."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(world["generator"])
    adapters, merged = [], []
    for k in range(n):
        torch.manual_seed(100 + k)
        base = AutoModelForCausalLM.from_pretrained(world["generator"])
        config = LoraConfig(r=RANK, lora_alpha=16, target_modules="all-linear", init_lora_weights=False)
        model = get_peft_model(base, config)
        model.save_pretrained(out / f"adapter-{k}")
        model.merge_and_unload().save_pretrained(out / f"merged-{k}")
        tok.save_pretrained(out / f"merged-{k}")
        adapters.append(out / f"adapter-{k}")
        merged.append(out / f"merged-{k}")
    return adapters, merged


def extraction_prompts(world: dict, n_targets: int) -> list[str]:
    from genleak.attacker.extraction.templates import get_template

    people = world["splits"].people
    targets = [p for p in people if p.role == "eval"][:n_targets]
    demos = [{"name": p.name, "email": p.email} for p in people if p.role == "fewshot"][:5]
    return [get_template(t).render(p.name, demos) for t in TEMPLATES for p in targets]


def _llm_kwargs(model: str, **extra) -> dict:
    from genleak.engines.base import EngineConfig
    from genleak.engines.vllm_engine import _llm_kwargs

    import torch

    engine = EngineConfig(name="vllm", dtype="bfloat16", max_model_len=256)
    return {**_llm_kwargs(Path(model), engine, on_gpu=torch.cuda.is_available()), **extra}  # bench/gpu.sh


def _params(temperature: float):
    from vllm import SamplingParams

    return SamplingParams(temperature=temperature, top_k=100, max_tokens=15, seed=0)


def part_multi_lora(cfg: dict) -> dict:
    from vllm import LLM
    from vllm.lora.request import LoRARequest

    started = time.perf_counter()
    llm = LLM(**_llm_kwargs(cfg["base"], enable_lora=True, max_loras=1, max_lora_rank=RANK))
    startup = time.perf_counter() - started
    generate_s, n = 0.0, 0
    for k, adapter in enumerate(cfg["adapters"]):
        request = LoRARequest(f"epoch-{k + 1}", k + 1, adapter)
        for temperature in cfg["temperatures"]:
            t0 = time.perf_counter()
            llm.generate(cfg["prompts"], _params(temperature), lora_request=request, use_tqdm=False)
            generate_s += time.perf_counter() - t0
            n += len(cfg["prompts"])
    return {"seconds": time.perf_counter() - started, "startup_s": startup, "generate_s": generate_s, "prompts": n}


def part_per_checkpoint(cfg: dict) -> dict:
    from vllm import LLM

    from genleak.engines.vllm_engine import shutdown_llm

    started = time.perf_counter()
    startup, generate_s, n = 0.0, 0.0, 0
    for merged in cfg["merged"]:
        t0 = time.perf_counter()
        llm = LLM(**_llm_kwargs(merged))
        startup += time.perf_counter() - t0
        for temperature in cfg["temperatures"]:
            t0 = time.perf_counter()
            llm.generate(cfg["prompts"], _params(temperature), use_tqdm=False)
            generate_s += time.perf_counter() - t0
            n += len(cfg["prompts"])
        shutdown_llm(llm)  # genleak's engine close: frees the engine processes before the next checkpoint
    return {"seconds": time.perf_counter() - started, "startup_s": startup, "generate_s": generate_s, "prompts": n}


PARTS = {"multi_lora": part_multi_lora, "per_checkpoint": part_per_checkpoint}


def run_part(name: str, cfg: dict, tmp: Path) -> dict:
    cfg_path, out_path = tmp / f"{name}.cfg.json", tmp / f"{name}.out.json"
    cfg_path.write_text(json.dumps(cfg))
    proc = subprocess.run([sys.executable, __file__, "--part", name, str(cfg_path), str(out_path)],
                          capture_output=True, text=True, timeout=900)
    if not out_path.exists():  # judged by its output: vLLM may abort at exit after finishing (docs/platform.md, vLLM on a CPU)
        sys.stderr.write(proc.stderr[-4000:])
        raise RuntimeError(f"part {name} failed (exit {proc.returncode})")
    return json.loads(out_path.read_text())


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--part":
        result = PARTS[sys.argv[2]](json.loads(Path(sys.argv[3]).read_text()))
        Path(sys.argv[4]).write_text(json.dumps(result))
        return
    args = common.parse_args(__doc__)
    n_ckpt, n_targets, temperatures = (2, 8, TEMPERATURES[1::2]) if args.quick else (2, 16, TEMPERATURES)
    (common.BENCH / "out").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-lora-", dir=common.BENCH / "out") as tmp_s:
        tmp = Path(tmp_s).resolve()
        world = common.lab_world(tmp / "world", roles=("generator",))
        adapters, merged = make_checkpoints(world, n_ckpt, tmp)
        prompts = extraction_prompts(world, n_targets)
        cfg = {"base": str(world["generator"]), "adapters": [str(a) for a in adapters],
               "merged": [str(m) for m in merged], "prompts": prompts, "temperatures": temperatures}
        res = {name: run_part(name, cfg, tmp) for name in PARTS}

    rows = []
    per = res["per_checkpoint"]
    for name, title in (("multi_lora", "vLLM multi-LoRA, one engine"), ("per_checkpoint", "one engine per checkpoint")):
        r = res[name]
        rows.append([title, r["prompts"], r["startup_s"], r["generate_s"], r["seconds"], r["prompts"] / r["seconds"],
                     r["prompts"] / r["generate_s"], per["seconds"] / r["seconds"]])
    common.print_table(f"Extraction: {len(TEMPLATES)} templates x {n_targets} targets x {len(temperatures)} "
                       f"temperatures x {n_ckpt} checkpoints, 15 new tokens",
                       ["setup", "prompts", "start-up s", "generate s", "total s", "prompts/s", "prompts/s (gen only)",
                        "speed-up"], rows)
    ratio = per["seconds"] / res["multi_lora"]["seconds"]
    steady = (res["multi_lora"]["prompts"] / res["multi_lora"]["generate_s"]) / (per["prompts"] / per["generate_s"])
    print(f"\nmulti-LoRA vs one engine per checkpoint: {ratio:.2f}x prompts/s overall, "
          f"{steady:.2f}x while generating (LoRA kernels vs merged weights)")
    common.write_json("multi_lora", {"checkpoints": n_ckpt, "targets": n_targets, "temperatures": temperatures,
                                     "templates": TEMPLATES, "results": res, "speedup_overall": ratio,
                                     "generate_only_ratio": steady}, args.quick)


if __name__ == "__main__":
    main()
