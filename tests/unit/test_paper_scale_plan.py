"""scripts/paper_scale_plan.py: docs/paper_scale.md stays generated, and its numbers are sane."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "paper_scale_plan.py"
GIB = 1 << 30


def _load_script():
    spec = importlib.util.spec_from_file_location("paper_scale_plan", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


psp = _load_script()


@pytest.fixture(scope="module")
def plan():
    return psp.build_plan()


def test_doc_is_what_the_script_writes():
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_fails_on_a_stale_doc(plan, tmp_path, monkeypatch):
    stale = tmp_path / "paper_scale.md"
    stale.write_text("# typed by hand\n")
    monkeypatch.setattr(psp, "DOC", stale)
    monkeypatch.setattr(psp, "build_plan", lambda: plan)
    assert psp.main(["--check"]) == 1
    assert stale.read_text() == "# typed by hand\n"  # --check changes nothing
    assert psp.main([]) == 0 and psp.main(["--check"]) == 0


def test_flop_formulas_on_a_hand_computed_case():
    # N = 1,000 weights, 10 tokens, adapter of 10 weights
    assert psp.inference_flops(1_000, 10) == 20_000
    assert psp.full_training_flops(1_000, 10) == 60_000
    assert psp.lora_training_flops(1_000, 10, 10) == 4 * 1_000 * 10 + 6 * 10 * 10 == 40_600


def test_built_models_match_published_and_hand_counts(plan):
    models = plan.models
    # the Pythia model cards' parameter counts
    assert models["Pythia-1.4b"].params == 1_414_647_808
    assert models["Pythia-6.9b"].params == 6_857_302_016
    assert models["Pythia-12b"].params == 11_846_072_320
    # SmolLM2-135M ties its head to its embedding: counted once
    assert models["SmolLM2-135M"].params == models["SmolLM2-135M"].matmul_params == 134_515_008
    # untied: the input-embedding lookup is not a matmul
    assert models["Pythia-1.4b"].params - models["Pythia-1.4b"].matmul_params == 50_304 * 2048
    # LoRA r=64 on every linear of the lab target (hidden 128, MLP 512, 2 layers): r * (in + out) per layer
    per_layer = 64 * ((128 + 384) + (128 + 128) + (128 + 512) + (512 + 128))
    assert models["lab target"].adapter_params == 2 * per_layer
    # K and V, 36 layers x 5,120 wide, 2 bytes each
    assert models["Pythia-12b"].kv_bytes_per_token == 2 * 36 * 5120 * 2


def test_lora_memory_grows_with_the_model_and_shrinks_with_checkpointing(plan):
    small, big = plan.models["Pythia-1.4b"], plan.models["Pythia-6.9b"]
    assert big.train_bytes > small.train_bytes
    for model in (small, big):
        assert model.train_bytes_checkpointed < model.train_bytes
    # the paper's 6.9b LoRA fits one 80 GB card per data-parallel replica
    assert big.train_bytes < psp.FIT_SHARE * 80 * GIB
    finetunes = [s for s in plan.scenarios["A"].per_target["Pythia-6.9b"] if s.train_tokens]
    assert finetunes and finetunes[0].gpus == 4 and finetunes[0].memory_per_gpu == big.train_bytes


def test_the_12b_generator_needs_two_cards(plan):
    generator = plan.models["Pythia-12b"]
    stage = plan.scenarios["A"].shared[0]
    assert stage.model is generator and stage.gpus == 2
    assert generator.weight_bytes == 2 * generator.params  # fp16
    assert stage.memory_per_gpu <= psp.FIT_SHARE * 80 * GIB  # fits 2 x 80 GB
    need = generator.weight_bytes + psp.GENERATION_BATCH * psp.ROW_TOKENS * generator.kv_bytes_per_token
    assert psp.gpus_needed(need, 80 * GIB) == 2
    assert psp.gpus_needed(need, 40 * GIB) >= 2  # and more than one 40 GB-class card


def test_decode_is_never_faster_than_its_compute_bound(plan):
    stage = plan.scenarios["A"].shared[0]
    m = stage.model
    compute_only = psp.inference_flops(m.matmul_params, stage.decode_tokens) / (
        stage.gpus * psp.GPU_PEAK_FLOPS * psp.MFU_DECODE)
    decode = psp.decode_seconds(m, stage.decode_tokens, stage.decode_batch, stage.decode_context, stage.gpus)
    assert decode >= compute_only
    assert 0 < psp.decode_mfu(stage) <= psp.MFU_DECODE


def test_every_hour_is_labelled_an_estimate():
    doc = (ROOT / "docs" / "paper_scale.md").read_text()
    assert "**Every hour below is an estimate.**" in doc
    assert doc.count("| hours (estimate) |") == 2  # the column of both scenario tables


def test_the_cpu_comparison_makes_the_point(plan):
    assert {r.kind for r in plan.rates.values()} == {"train", "prefill", "decode"}
    assert all(r.flops_per_s > 0 for r in plan.rates.values())
    stages = [s for scenario in plan.scenarios.values() for s in scenario.stages()]
    cpu_days = sum(psp.cpu_seconds(s, plan.rates) for s in stages) / 86400
    gpu_hours = sum(s.gpu_hours() for s in stages)
    assert cpu_days > 365 and gpu_hours < 100
    # the stages carry the work the paper's settings give
    a, b = plan.scenarios["A"], plan.scenarios["B"]
    extraction = [s for s in a.per_target["Pythia-1.4b"] if s.name.startswith("PII extraction")][0]
    assert extraction.decode_tokens == (1 + 3 * 4) * 1_000 * 4 * 8 * 15
    assert b.per_target["Pythia-6.9b"][0].train_tokens == 2 * 4 * 2_220 * 2_048
