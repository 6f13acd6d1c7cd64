"""The paper's scenarios A and B at full size: FLOPs, GPUs, memory and hours per stage (docs/paper_scale.md).

    .venv/bin/python scripts/paper_scale_plan.py           # (re)write docs/paper_scale.md
    .venv/bin/python scripts/paper_scale_plan.py --check   # change nothing; exit 1 if the doc differs

No GPU run of genleak exists yet (bench/gpu.sh has not run), so every hour here is an ESTIMATE: the
FLOPs of each stage divided by an assumed share of an H100's peak (a bandwidth bound for decoding).
The CPU part is measured: the throughput in bench/results/*.json, turned into achieved FLOP/s with the
parameter counts of the benched models, then applied to the full-size FLOPs. Models are built on the
meta device from configs written here (nothing is downloaded), and fine-tuning memory comes from
genleak's own estimator (genleak.finetuner.memory), the bound the finetuner checks before it trains.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))
DOC = ROOT / "docs" / "paper_scale.md"
RESULTS = ROOT / "bench" / "results"
GIB = 1 << 30

# --- the GPU (NVIDIA's H100 SXM datasheet) and the utilisation assumed on it ------------------------
GPU = "H100 SXM 80 GB"
GPU_PEAK_FLOPS = 989e12      # dense fp16/bf16 tensor cores (the datasheet's 1,979 TFLOP/s assumes 2:4 sparsity)
GPU_BANDWIDTH = 3.35e12      # HBM3, bytes/s
GPU_MEMORY = 80 * GIB
FIT_SHARE = 0.9              # plan at most 90 % of a card: CUDA context, allocator slack (vLLM's default too)
MFU_TRAIN = 0.35             # LoRA at micro-batch 1 x 2,048 tokens, fp16 autocast over a float32 base
MFU_PREFILL = 0.40           # forward-only over long sequences: large matmuls, no backward, no optimizer
MFU_DECODE = 0.25            # compute ceiling of one decode step (only reached when weights and KV reads are cheap)
BANDWIDTH_SHARE = 0.70       # share of HBM bandwidth that decode kernels reach reading weights and KV cache

# --- the workload, from docs/paper.md (and examples/paper_scenario_a.yaml where that says more) -----
ROWS_TRAINED = 2_220         # the last 2,220 generated rows are trained on
ROW_TOKENS = 2_048           # sequences up to 2,048 tokens; the paper pads every row to it, so it computes 2,048
EPOCHS = 4                   # a checkpoint per epoch, all attacked
GPUS_FINETUNE = 4            # per-device batch 1 x accumulation 8 on 4 GPUs (data parallel)
GPUS_GENERATOR = 2           # Pythia-12b under vLLM with tensor parallel 2
GENERATION_PROMPTS_A = 3_330  # rows 1110 onwards of the Enron file feed generation (examples/paper_scenario_a.yaml)
NEW_TOKENS = 1_000           # up to 1,000 new tokens per sample
PROMPT_TOKENS = ROW_TOKENS - NEW_TOKENS  # ASSUMED: every prompt + generation fills the 2,048-token window
CONDITIONS_A = ("original", "generated", "replaced")  # the paper's fine-tuned conditions; plus the base model
CONDITIONS_B = ("original", "generated")
PII_QUERIES = 1_000 * 4 * 8  # 1,000 people x templates A-D x 8 temperatures, per attacked model
PII_NEW_TOKENS = 15
CHARS_PER_TOKEN = 3.0        # ASSUMED for the extraction prompts: names and e-mail addresses split into short pieces
PERPLEXITY_ROWS = 1_110      # utility: perplexity of every checkpoint on rows 0-1109
MIA_TEXTS = 2_000            # 1,000 members + 1,000 non-members
MIA_TOKENS = 512             # MIMIR's cap; ASSUMED every text reaches it (100-200 words is nearer 150-300)
NEIGHBOURS = 25              # neighbourhood attack: 25 neighbours per text, each scored by the target
SELF_INSTRUCT_CANDIDATES = 2  # ASSUMED: generated candidates per kept row (the ROUGE-L and format filters drop half)

# --- batches assumed for inference (what the memory column holds besides the weights) --------------
GENERATION_BATCH = 64        # sequences decoded together by the 12b (KV cache reserved for all 2,048 positions)
EXTRACTION_BATCH = 256       # extraction prompts decoded together on one target
SCORING_BATCH = 32           # texts per scoring forward (the membership example's hf engine batch)

# --- models known only by size (their architecture is not needed: scoring only) ----------------------
STABLELM_3B = 2.8e9          # MIMIR's reference model stablelm-base-alpha-3b-v2 (its model card: 2.8B parameters)
STABLELM_VOCAB = 50_432      # ASSUMED: the GPT-NeoX tokenizer padded as in Pythia-6.9b
BERT_BASE = 110e6            # bert-base-uncased, the neighbourhood attack's masked LM (Devlin et al. 2019)
BERT_VOCAB = 30_522


def pythia_config(hidden: int, layers: int, heads: int, vocab: int):
    """Pythia as its config.json has it (EleutherAI/pythia-1.4b, -6.9b, -12b; widths, depths and heads
    also in Table 1 of the Pythia paper, Biderman et al. 2023): MLP 4x wide, 25 % rotary, 2,048 positions,
    parallel residual, untied output head."""
    from transformers import GPTNeoXConfig

    return GPTNeoXConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                         intermediate_size=4 * hidden, vocab_size=vocab, rotary_pct=0.25,
                         max_position_embeddings=2048, use_parallel_residual=True, tie_word_embeddings=False)


def full_size_configs() -> dict:
    # The vocabulary is padded differently per size (so the embedding shards evenly): 50,304 / 50,432 / 50,688.
    return {"Pythia-1.4b": pythia_config(2048, 24, 16, 50_304),
            "Pythia-6.9b": pythia_config(4096, 32, 32, 50_432),
            "Pythia-12b": pythia_config(5120, 36, 40, 50_688)}


def benched_configs() -> dict:
    """The models the CPU benches ran: the lab's default target and generator shapes (randomly initialised,
    vocabulary 4,096), and SmolLM2-135M-Instruct (its config.json, also the GGUF header genleak's zoo ships)."""
    from accelerate import init_empty_weights
    from transformers import LlamaConfig

    from genleak.lab.config import LabConfig
    from genleak.lab.models import new_generator, new_target

    class LabVocabulary:  # what lab.models reads from a tokenizer: its length and special ids
        bos_token_id = eos_token_id = 0
        pad_token_id = 1

        def __len__(self) -> int:
            return lab.vocab_size

    lab = LabConfig.preset("default")
    with init_empty_weights():
        target = new_target(lab.target, LabVocabulary(), 0).config
        generator = new_generator(lab.generator, LabVocabulary(), 0).config
    smollm = LlamaConfig(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                         intermediate_size=1536, vocab_size=49_152, max_position_embeddings=8192,
                         tie_word_embeddings=True)
    return {"lab target": target, "lab generator": generator, "SmolLM2-135M": smollm}


# --- FLOPs per token -----------------------------------------------------------------------------


def inference_flops(matmul_params: float, tokens: float) -> float:
    """A forward pass: one multiply-add (2 FLOPs) per weight per token."""
    return 2 * matmul_params * tokens


def full_training_flops(matmul_params: float, tokens: float) -> float:
    """Forward (2N) + backward to activations (2N) + backward to weights (2N)."""
    return 6 * matmul_params * tokens


def lora_training_flops(matmul_params: float, adapter_params: float, tokens: float) -> float:
    """The frozen base needs its forward and the backward to activations (4N) but no weight gradients;
    the adapter pays the full 6 N_adapter."""
    return 4 * matmul_params * tokens + 6 * adapter_params * tokens


# --- models ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    name: str
    params: int                # every base parameter
    matmul_params: int         # every weight a token is multiplied by: all but the input-embedding lookup
    vocab: int
    layers: int = 0
    hidden: int = 0
    kv_bytes_per_token: int = 0  # keys and values of every layer in 16 bits
    adapter_params: int = 0      # LoRA r=64 all-linear (the paper's), trainable
    train_bytes: int = 0         # genleak's fine-tune memory bound: micro-batch 1 x 2,048, fp16 autocast
    train_bytes_checkpointed: int = 0  # the same with gradient checkpointing

    @property
    def weight_bytes(self) -> int:  # inference loads fp16/bf16
        return 2 * self.params


def built_model(name: str, config) -> Model:
    """Counts from the model itself, built on the meta device and wrapped with the paper's LoRA."""
    import torch

    from genleak.contracts.finetune import TrainConfig
    from genleak.finetuner import memory
    from genleak.finetuner.methods import get_method

    lora = get_method("lora").build({"r": 64, "lora_alpha": 16, "lora_dropout": 0.05, "target_modules": "all-linear"})
    with tempfile.TemporaryDirectory(prefix="paper-scale-") as folder:
        config.save_pretrained(folder)
        model = memory.meta_model(Path(folder), torch.float32, False, lora)
    # The paper's fp16=True: the base stays float32 and the forward runs under fp16 autocast.
    train = TrainConfig(batch_size=1, grad_accum=32, max_length=ROW_TOKENS, mixed_precision="fp16")
    plain = memory.estimate_memory(model, train, 1, ROW_TOKENS)
    checkpointed = memory.estimate_memory(model, train.model_copy(update={"gradient_checkpointing": True}),
                                          1, ROW_TOKENS)
    base = model.get_base_model()
    params = plain.total_params - plain.trainable_params
    embedding = base.get_input_embeddings().weight
    # a tied model multiplies by its embedding as the head; an untied one only looks the embedding up
    lookup = 0 if config.tie_word_embeddings else embedding.numel()
    kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = config.hidden_size // config.num_attention_heads
    return Model(name, params, params - lookup, config.vocab_size, config.num_hidden_layers, config.hidden_size,
                 2 * config.num_hidden_layers * kv_heads * head_dim * 2, plain.trainable_params,
                 plain.total_bytes, checkpointed.total_bytes)


def sized_model(name: str, params: float, vocab: int) -> Model:
    return Model(name, int(params), int(params), vocab)


# --- GPU time and memory --------------------------------------------------------------------------


def gpus_needed(bytes_total: float, card_bytes: float = GPU_MEMORY) -> int:
    """Fewest GPUs (a power of two, as tensor parallelism splits heads evenly) that hold bytes_total."""
    n = 1
    while bytes_total / n > FIT_SHARE * card_bytes:
        n *= 2
    return n


def decode_seconds(model: Model, tokens: float, batch: int, context: float, gpus: int) -> float:
    """Wall seconds to decode `tokens` in steps of `batch`: each step costs the slower of its matmuls and
    reading the weights plus every sequence's KV cache from HBM (the usual roofline)."""
    compute = inference_flops(model.matmul_params, batch) / gpus / (GPU_PEAK_FLOPS * MFU_DECODE)
    reads = (model.weight_bytes + batch * context * model.kv_bytes_per_token) / gpus / (GPU_BANDWIDTH * BANDWIDTH_SHARE)
    return tokens / batch * max(compute, reads)


@dataclass(frozen=True)
class Stage:
    name: str
    model: Model
    gpus: int
    memory_per_gpu: int
    memory_note: str
    train_tokens: float = 0
    prefill_tokens: float = 0
    decode_tokens: float = 0
    decode_batch: int = 1
    decode_context: float = 0  # mean tokens in a sequence's KV cache while decoding

    def flops(self) -> dict[str, float]:
        m = self.model
        return {"train": lora_training_flops(m.matmul_params, m.adapter_params, self.train_tokens),
                "prefill": inference_flops(m.matmul_params, self.prefill_tokens),
                "decode": inference_flops(m.matmul_params, self.decode_tokens)}

    def total_flops(self) -> float:
        return sum(self.flops().values())

    def wall_seconds(self) -> float:
        """On self.gpus GPUs; data- and tensor-parallel scaling assumed perfect."""
        f = self.flops()
        seconds = f["train"] / (self.gpus * GPU_PEAK_FLOPS * MFU_TRAIN)
        seconds += f["prefill"] / (self.gpus * GPU_PEAK_FLOPS * MFU_PREFILL)
        if self.decode_tokens:
            seconds += decode_seconds(self.model, self.decode_tokens, self.decode_batch, self.decode_context, self.gpus)
        return seconds

    def gpu_hours(self) -> float:
        return self.wall_seconds() * self.gpus / 3600


def generation_stage(name: str, generator: Model, prompts: int) -> Stage:
    kv = GENERATION_BATCH * ROW_TOKENS * generator.kv_bytes_per_token  # vLLM reserves a sequence's whole window
    need = generator.weight_bytes + kv
    gpus = max(GPUS_GENERATOR, gpus_needed(need))
    return Stage(name, generator, gpus, need // gpus,
                 f"weights {_gib(generator.weight_bytes / gpus)} + KV {_gib(kv / gpus)} (batch {GENERATION_BATCH})",
                 prefill_tokens=prompts * PROMPT_TOKENS, decode_tokens=prompts * NEW_TOKENS,
                 decode_batch=GENERATION_BATCH, decode_context=PROMPT_TOKENS + NEW_TOKENS / 2)


def finetune_stage(target: Model, conditions: int) -> Stage:
    if target.train_bytes > FIT_SHARE * GPU_MEMORY:  # data parallelism keeps a whole replica per GPU
        raise SystemExit(f"{target.name}: a LoRA replica needs {_gib(target.train_bytes)}, more than one {GPU}")
    return Stage(f"fine-tune, {conditions} conditions x {EPOCHS} epochs", target, GPUS_FINETUNE, target.train_bytes,
                 f"{_gib(target.train_bytes)} ({_gib(target.train_bytes_checkpointed)} with gradient checkpointing)",
                 train_tokens=conditions * EPOCHS * ROWS_TRAINED * ROW_TOKENS)


def attacked_models(conditions: int) -> int:
    return 1 + conditions * EPOCHS  # the base model, then every epoch checkpoint of every condition


def extraction_stage(target: Model, conditions: int, prompt_tokens: float) -> Stage:
    models = attacked_models(conditions)
    context = prompt_tokens + PII_NEW_TOKENS
    kv = EXTRACTION_BATCH * context * target.kv_bytes_per_token
    return Stage(f"PII extraction, {models} models", target, 1, target.weight_bytes + int(kv),
                 f"weights {_gib(target.weight_bytes)} + KV {_gib(kv)} (batch {EXTRACTION_BATCH})",
                 prefill_tokens=models * PII_QUERIES * prompt_tokens, decode_tokens=models * PII_QUERIES * PII_NEW_TOKENS,
                 decode_batch=EXTRACTION_BATCH, decode_context=prompt_tokens + PII_NEW_TOKENS / 2)


def scoring_stage(name: str, model: Model, tokens: float, width: int) -> Stage:
    logits = SCORING_BATCH * width * model.vocab * 4  # float32 log-probs of one batch
    return Stage(name, model, 1, model.weight_bytes + logits,
                 f"weights {_gib(model.weight_bytes)} + logits {_gib(logits)} (batch {SCORING_BATCH})",
                 prefill_tokens=tokens)


def scenario_a(models: dict[str, Model], prompt_tokens: float) -> tuple[list[Stage], dict[str, list[Stage]]]:
    """The stages run once for the scenario, and those run per target."""
    n = len(CONDITIONS_A)
    generation = generation_stage("generation (generated + replaced)", models["Pythia-12b"],
                                  2 * GENERATION_PROMPTS_A)
    per_target = {name: [finetune_stage(models[name], n),
                         extraction_stage(models[name], n, prompt_tokens),
                         scoring_stage(f"perplexity, {attacked_models(n)} models", models[name],
                                       attacked_models(n) * PERPLEXITY_ROWS * ROW_TOKENS, ROW_TOKENS)]
                  for name in ("Pythia-1.4b", "Pythia-6.9b")}
    return [generation], per_target


def scenario_b(models: dict[str, Model]) -> tuple[list[Stage], dict[str, list[Stage]]]:
    n = len(CONDITIONS_B)
    generation = generation_stage("self-instruct generation", models["Pythia-12b"],
                                  SELF_INSTRUCT_CANDIDATES * ROWS_TRAINED)
    scored = attacked_models(n) * MIA_TEXTS * MIA_TOKENS
    per_target = {name: [finetune_stage(models[name], n),
                         scoring_stage(f"MIA target scoring, {attacked_models(n)} models x (text, lowercase, "
                                       f"{NEIGHBOURS} neighbours)", models[name], scored * (2 + NEIGHBOURS),
                                       MIA_TOKENS),
                         scoring_stage(f"MIA reference model, {attacked_models(n)} jobs", models["StableLM-3b"],
                                       scored, MIA_TOKENS)]
                  for name in ("Pythia-1.4b", "Pythia-6.9b")}
    # Neighbours depend on the text alone (genleak caches them), so both targets share them: one masked-LM
    # forward over the whole text per token position.
    neighbours = scoring_stage("neighbour generation", models["BERT-base"], MIA_TEXTS * MIA_TOKENS * MIA_TOKENS,
                               MIA_TOKENS)
    return [generation, neighbours], per_target


def extraction_prompt_tokens() -> tuple[float, float]:
    """Mean characters of the paper's four 5-shot prompts (genleak renders them), and the tokens assumed."""
    from genleak.contracts.extraction import PAPER_TEMPLATES
    from genleak.core.builtin_data import PAPER_FEW_SHOT

    # the demonstration names stand in for the queried ones (the Enron names are not in the repository)
    lengths = [len(t.render(p["name"], PAPER_FEW_SHOT)) for t in PAPER_TEMPLATES for p in PAPER_FEW_SHOT]
    chars = sum(lengths) / len(lengths)
    return chars, chars / CHARS_PER_TOKEN


# --- measured CPU throughput ----------------------------------------------------------------------


@dataclass(frozen=True)
class CpuRate:
    kind: str      # which FLOPs it prices: train, prefill or decode
    bench: str
    what: str
    tokens: float
    seconds: float
    flops: float

    @property
    def flops_per_s(self) -> float:
        return self.flops / self.seconds


def cpu_rates(models: dict[str, Model]) -> dict[str, CpuRate]:
    def load(name: str) -> dict:
        return json.loads((RESULTS / f"{name}.json").read_text())

    target, reference, smollm = models["lab target"], models["lab generator"], models["SmolLM2-135M"]
    ft = load("finetune_padding")["runs"]["genleak (dynamic + length-grouped)"]
    mia = load("mia_scoring")
    gen = load("generation")["models"]["SmolLM2-135M"]
    # Fine-tuning computes padded positions too, so the padded count is the work done.
    train = CpuRate("train", "finetune_padding.json", f"LoRA r=64 on the lab target ({_count(target.params)})",
                    ft["padded_tokens"], ft["train_s"],
                    lora_training_flops(target.matmul_params, target.adapter_params, ft["padded_tokens"]))
    # genleak's scorer: the target reads every text and its lowercased copy (assumed as many tokens), the
    # lab generator's shape (the reference model there) reads every text once.
    seconds = mia["seconds"]["genleak shared forward"]
    prefill = CpuRate("prefill", "mia_scoring.json",
                      f"hf scoring: lab target ({_count(target.params)}) on texts + lowercased, lab generator shape "
                      f"({_count(reference.params)}) as reference", 3 * mia["tokens"], seconds,
                      inference_flops(2 * target.matmul_params + reference.matmul_params, mia["tokens"]))
    # vLLM on the CPU; the prompt tokens are not in the file, so only decoding is counted (a lower bound).
    decode = CpuRate("decode", "generation.json", f"vLLM generate, SmolLM2-135M ({_count(smollm.params)})",
                     gen["new_tokens"]["vllm"], gen["seconds"]["vllm"],
                     inference_flops(smollm.matmul_params, gen["new_tokens"]["vllm"]))
    return {rate.kind: rate for rate in (train, prefill, decode)}


def cpu_seconds(stage: Stage, rates: dict[str, CpuRate]) -> float:
    return sum(flops / rates[kind].flops_per_s for kind, flops in stage.flops().items() if flops)


# --- the document ---------------------------------------------------------------------------------


def build_models() -> dict[str, Model]:
    models = {name: built_model(name, config) for name, config in {**full_size_configs(), **benched_configs()}.items()}
    models["StableLM-3b"] = sized_model("StableLM-3b", STABLELM_3B, STABLELM_VOCAB)
    models["BERT-base"] = sized_model("BERT-base", BERT_BASE, BERT_VOCAB)
    return models


@dataclass(frozen=True)
class Scenario:
    title: str
    shared: list[Stage]               # run once for the scenario (their output serves both targets)
    per_target: dict[str, list[Stage]]

    def stages(self) -> list[Stage]:
        return self.shared + [s for stages in self.per_target.values() for s in stages]

    def gpu_hours(self, target: str | None = None) -> float:
        stages = self.stages() if target is None else self.shared + self.per_target[target]
        return sum(s.gpu_hours() for s in stages)

    def wall_hours(self, target: str) -> float:
        return sum(s.wall_seconds() for s in self.shared + self.per_target[target]) / 3600


@dataclass(frozen=True)
class Plan:
    models: dict[str, Model]
    scenarios: dict[str, Scenario]
    rates: dict[str, CpuRate]
    prompt_chars: float
    prompt_tokens: float


def build_plan() -> Plan:
    models = build_models()
    chars, prompt_tokens = extraction_prompt_tokens()
    scenarios = {"A": Scenario("PII extraction after SFT on generated continuations", *scenario_a(models, prompt_tokens)),
                 "B": Scenario("membership inference after self-instruct tuning", *scenario_b(models))}
    return Plan(models, scenarios, cpu_rates(models), chars, prompt_tokens)


def decode_mfu(stage: Stage) -> float:
    """The model-FLOPs utilisation the decode roofline implies (what the bandwidth bound leaves of the peak)."""
    m = stage.model
    seconds = decode_seconds(m, stage.decode_tokens, stage.decode_batch, stage.decode_context, stage.gpus)
    return inference_flops(m.matmul_params, stage.decode_tokens) / (seconds * stage.gpus * GPU_PEAK_FLOPS)


def render(plan: Plan) -> str:
    out = [HEADER.format(gpu=GPU)]
    for key, scenario in plan.scenarios.items():
        out += [f"## Scenario {key}: {scenario.title}", "",
                "| stage | model | work (tokens) | FLOPs | GPUs | memory per GPU | hours (estimate) |",
                "|---|---|---|---|---|---|---|"]
        out += [_gpu_row(stage) for stage in scenario.stages()]
        alone = "; ".join(f"with the {name} target alone {scenario.gpu_hours(name):.1f} GPU-hours "
                          f"({scenario.wall_hours(name):.1f} h if its stages run one after another)"
                          for name in scenario.per_target)
        shared = " and ".join(s.name for s in scenario.shared)
        out += ["", f"**Estimate: {scenario.gpu_hours():.1f} GPU-hours for scenario {key}** with both targets "
                    f"({shared} run once for both); {alone}.", ""]
    out += _cpu_section(plan)
    out += _assumptions(plan)
    return "\n".join(out) + "\n"


HEADER = """# The paper's scenarios at full size: GPUs, memory and hours

Generated by `scripts/paper_scale_plan.py` (`--check` fails when this file is out of date); do not edit by hand.

**Every hour below is an estimate.** genleak has not yet run on a GPU (`bench/gpu.sh` is prepared and has not
run), so no number here is a measured GPU throughput. Each stage's FLOPs are counted from the published Pythia
shapes and the paper's workload (docs/paper.md) and divided by an assumed share of an {gpu}'s peak;
decoding is bounded by memory bandwidth instead where that is slower. Fine-tuning memory is genleak's own lower
bound (`genleak.finetuner.memory`, on the model built on the meta device with the paper's LoRA); inference
memory is the 16-bit weights plus the KV cache or logits of the batch assumed. The hours column reads
"wall hours on the GPUs of that row (GPU-hours)". The CPU section turns the measured CPU benches into
achieved FLOP/s and shows what the same work would take on the dev machine. The assumptions are listed at the end.
"""


def _gpu_row(stage: Stage) -> str:
    return (f"| {stage.name} | {stage.model.name} | {_work(stage)} | {_sci(stage.total_flops())} | {stage.gpus} | "
            f"{stage.memory_note} | {stage.wall_seconds() / 3600:.2f} ({stage.gpu_hours():.2f} GPU-h) |")


def _work(stage: Stage) -> str:
    parts = [(label, n) for label, n in (("train", stage.train_tokens), ("prefill", stage.prefill_tokens),
                                         ("decode", stage.decode_tokens)) if n]
    return " + ".join(f"{label} {_count(n)}" for label, n in parts)


def _cpu_section(plan: Plan) -> list[str]:
    out = ["## The same work on this project's CPU (measured throughput, scaled by FLOPs)", "",
           "Achieved FLOP/s of the benches in `bench/results/` (2 shared vCPUs, AMD EPYC; bench/RESULTS.md gives "
           "the load), with the FLOP formulas of the assumptions and the benched models' parameter counts (rebuilt "
           "here from their configs):", "",
           "| prices the | bench | what ran | tokens | seconds | tokens/s | achieved GFLOP/s |",
           "|---|---|---|---|---|---|---|"]
    out += [f"| {r.kind} FLOPs | `{r.bench}` | {r.what} | {r.tokens:,.0f} | {r.seconds:.2f} | "
            f"{r.tokens / r.seconds:,.0f} | {r.flops_per_s / 1e9:.1f} |" for r in plan.rates.values()]
    out += ["", "Each stage's train, prefill and decode FLOPs at the matching rate:", "",
            "| scenario | stage | model | FLOPs | on this CPU | on the GPUs (estimate) |", "|---|---|---|---|---|---|"]
    everything = []
    for key, scenario in plan.scenarios.items():
        for stage in scenario.stages():
            everything.append(stage)
            out.append(f"| {key} | {stage.name} | {stage.model.name} | {_sci(stage.total_flops())} | "
                       f"{_duration(cpu_seconds(stage, plan.rates))} | {stage.wall_seconds() / 3600:.2f} h on "
                       f"{stage.gpus} GPU{'s' if stage.gpus > 1 else ''} |")
    cpu_total = sum(cpu_seconds(s, plan.rates) for s in everything)
    gpu_total = sum(s.gpu_hours() for s in everything)
    out += ["", f"Both scenarios with both targets: **{_duration(cpu_total)} on this CPU** against "
                f"**{gpu_total:.1f} GPU-hours (estimate)**. That is why the paper's settings need GPUs; on this "
                "machine genleak runs the same pipeline at lab scale (examples/demo.yaml, examples/membership.yaml). "
                "The benched models are tiny (the lab target is 128 wide), so their matmuls reach less of the CPU's "
                "peak than a 1.4b's would; a full-size model might run a few times faster per FLOP here, which still "
                "leaves months to years.", ""]
    return out


def _assumptions(plan: Plan) -> list[str]:
    models = plan.models
    big, small, generator = models["Pythia-6.9b"], models["Pythia-1.4b"], models["Pythia-12b"]
    generation = plan.scenarios["A"].shared[0]

    def attention_share(m: Model) -> float:  # score and value matmuls, causal: about 2 * layers * context * hidden
        return 2 * m.layers * ROW_TOKENS * m.hidden / inference_flops(m.matmul_params, 1)

    kv_room = FIT_SHARE * 40 * GIB - generator.weight_bytes
    sequences_40gb = int(kv_room // (ROW_TOKENS * generator.kv_bytes_per_token))
    sizes = ", ".join(f"{name} {_count(models[name].params)} ({_count(models[name].matmul_params)} in matmuls, LoRA "
                      f"adapter {_count(models[name].adapter_params)})" for name in full_size_configs())
    return ["## Assumptions", "",
            "- **Models.** Pythia shapes from each model's config.json (EleutherAI/pythia-1.4b, -6.9b, -12b) and "
            "the Pythia paper's Table 1: hidden 2,048 / 4,096 / 5,120, layers 24 / 32 / 36, heads 16 / 32 / 40, "
            "MLP 4x hidden, rotary 25 %, 2,048 positions, untied head; vocabulary 50,304 / 50,432 / 50,688 (the "
            f"larger models pad it further). Built on the meta device: {sizes}; the parameter counts equal the "
            "published ones. MIMIR's reference model (stablelm-base-alpha-3b-v2) is taken as 2.8B parameters and "
            "the neighbourhood attack's bert-base-uncased as 110M, by their model cards.",
            "- **FLOPs.** Inference 2·N·tokens; full training 6·N·tokens; LoRA training 4·N·tokens (the frozen "
            "base's forward and its backward to the activations, no weight gradients) + 6·N_adapter·tokens. N "
            "counts the weights a token is multiplied by: every parameter but the input-embedding lookup. "
            f"Attention-score FLOPs are left out; at 2,048 tokens they would add about {attention_share(small):.0%} "
            f"({small.name}) and {attention_share(big):.0%} ({big.name}). Gradient checkpointing would add one "
            "forward (2·N per token, half the LoRA cost again); the tables assume it off, since the memory fits "
            "without it.",
            f"- **GPU.** {GPU}: {GPU_PEAK_FLOPS / 1e12:.0f} TFLOP/s dense fp16/bf16, {GPU_BANDWIDTH / 1e12:.2f} TB/s. "
            f"Model-FLOPs utilisation assumed: {MFU_TRAIN:.0%} for LoRA training (large pretraining "
            "runs report 40-55 %, PaLM 46 %; micro-batch 1 and the thin adapter matmuls put LoRA lower) "
            f"and {MFU_PREFILL:.0%} for scoring and prompt prefill (forward only over long sequences). A decode "
            f"step takes the slower of {MFU_DECODE:.0%} MFU and reading the weights plus the batch's KV cache at "
            f"{BANDWIDTH_SHARE:.0%} of HBM bandwidth. Pythia has no grouped-query attention, so its KV cache is "
            f"large ({generator.kv_bytes_per_token / 2**20:.2f} MiB per token for the 12b) and the bandwidth bound "
            f"wins: the 12b's decoding comes out at {decode_mfu(generation):.1%} MFU, well under the 20-30 % often "
            "assumed for generation. Decode-heavy hours are therefore the least certain.",
            f"- **GPUs and memory.** A stage fits in {FIT_SHARE:.0%} of a card. Generation: the 12b on "
            f"{GPUS_GENERATOR} GPUs with tensor parallelism (the paper's), KV cache reserved for {GENERATION_BATCH} "
            f"sequences of {ROW_TOKENS:,} tokens; its 16-bit weights alone ({_gib(generator.weight_bytes)}) fit "
            f"one 80 GB card, but a 40 GB-class card would keep room for only {sequences_40gb} such sequences. "
            "Fine-tuning: "
            f"{GPUS_FINETUNE} GPUs data parallel (the paper's), each holding a whole replica, float32 base under "
            "fp16 autocast (the paper's fp16=True), micro-batch 1 x 2,048; genleak's bound is a lower bound (no "
            "allocator slack or CUDA context), and loading the base in bfloat16 (train.dtype) would halve its "
            "weights. Attacks and scoring: one GPU per model; vLLM would claim 90 % of the card and fill the rest "
            "with KV cache, so the memory column is what the assumed batch needs, not what vLLM reserves. "
            "Data- and tensor-parallel scaling are taken as perfect.",
            f"- **Scenario A work.** Generation over the Enron rows from 1110 on ({GENERATION_PROMPTS_A:,} prompts, "
            "from examples/paper_scenario_a.yaml) for the generated and the replaced condition; each prompt and its "
            f"{NEW_TOKENS:,} new tokens are taken to fill the 2,048-token window ({PROMPT_TOKENS:,} prompt tokens), "
            f"an upper bound. Fine-tuning on {ROWS_TRAINED:,} rows padded to {ROW_TOKENS:,} tokens (the paper "
            "pads to max_length; genleak's dynamic padding would compute only the real tokens), "
            f"{EPOCHS} epochs, conditions {', '.join(CONDITIONS_A)}. Extraction: {PII_QUERIES:,} prompts (1,000 "
            f"people x 4 templates x 8 temperatures) per attacked model (the base model and {EPOCHS} checkpoints "
            f"per condition), {PII_NEW_TOKENS} new tokens each; the paper's 5-shot prompts average "
            f"{plan.prompt_chars:.0f} characters (rendered by genleak, its five demonstration names standing in "
            f"for the queried ones), taken as {plan.prompt_tokens:.0f} tokens at {CHARS_PER_TOKEN:.0f} characters "
            f"per token (e-mail addresses split into short pieces). Perplexity on {PERPLEXITY_ROWS:,} rows per "
            f"attacked model, each taken as {ROW_TOKENS:,} tokens (an upper bound).",
            "- **Scenario B work.** The paper's self-instruct generator is LLaMA-3 (its size is not in "
            "docs/paper.md), and the size of its generated set is not stated: planned here with the 12b generator "
            f"and the same {ROWS_TRAINED:,} rows as scenario A, each kept row costing {SELF_INSTRUCT_CANDIDATES} "
            f"candidates of {PROMPT_TOKENS:,} prompt + {NEW_TOKENS:,} new tokens (the filters drop about half). "
            f"Conditions {', '.join(CONDITIONS_B)}. Membership inference: {MIA_TEXTS:,} texts (1,000 members and "
            f"1,000 non-members) of {MIA_TOKENS} tokens (MIMIR's cap, an upper bound) per attacked model; the "
            f"target scores each text, its lowercased copy and {NEIGHBOURS} neighbours; the reference model runs "
            "in every membership job, as genleak's attacker does; the neighbours are made once for both targets "
            "(genleak caches them per text), one masked-LM forward over the text per token position.",
            "- **Left out.** Learning-rate sweeps (the paper plots the best learning rate; each extra one repeats "
            "the fine-tune and attack rows), genleak's planted positive-control condition (one more fine-tune and "
            "its attacks per target), loading, merging and engine start-up (a minute or two per checkpoint on a "
            "GPU), and Presidio scans.",
            "- **CPU numbers.** Measured on a shared 2-vCPU machine under load (bench/RESULTS.md), so they are "
            "rough. Missing from bench/results, and not invented here: any GPU throughput; the prompt tokens of "
            "the generation bench (its rate counts decoded tokens only, so it understates the CPU); the token "
            "count of the lowercased texts in the scoring bench (taken as equal to the originals); token counts "
            "in the extraction bench (multi_lora.json), so CPU extraction is priced with the prefill and decode "
            "rates above."]


# --- formatting -----------------------------------------------------------------------------------


def _sci(x: float) -> str:
    mantissa, exponent = f"{x:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"


def _count(n: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.3g}{suffix}"
    return f"{n:.0f}"


def _duration(seconds: float) -> str:
    days = seconds / 86400
    if days >= 365:
        return f"{days / 365:.1f} years"
    return f"{days:.1f} days" if days >= 1 else f"{seconds / 3600:.1f} hours"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if docs/paper_scale.md differs")
    args = parser.parse_args(argv)
    after = render(build_plan())
    before = DOC.read_text() if DOC.exists() else ""
    if args.check:
        print("docs/paper_scale.md is up to date" if after == before else
              "docs/paper_scale.md differs from what scripts/paper_scale_plan.py writes: run it")
        return 0 if after == before else 1
    if after != before:
        DOC.write_text(after)
    print(f"docs/paper_scale.md {'written' if after != before else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
