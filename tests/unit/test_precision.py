"""The reduced-precision check: comparison, verdicts, cache, dtype defaults, platform fingerprint.

A stand-in for vllm.LLM answers in vLLM's output shape from a real transformers model, so the
comparison runs on real log-probs without starting vLLM: the same weights agree, other weights
(a differently seeded model) disagree by nats. The vLLM path itself is tested in
tests/integration/test_precision_vllm.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from genleak.core.errors import GenleakError
from genleak.core.platform_info import cpu_info, describe_platform, fingerprint_key, platform_fingerprint
from genleak.engines import precision
from genleak.engines.precision import (PrecisionMismatch, ParityReport, ProbeParity, TOLERANCES, PrecisionGate,
                                       measure_parity, model_content_hash, needs_check, resolve_dtype,
                                       set_precision_cache_dir)
from genleak.engines.probe_model import build_tiny_model
from genleak.compute.threads import torch_threads


class TransformersAsVLLM:
    """Greedy decoding with per-token log-probs in vllm.LLM.generate's output shape."""

    def __init__(self, model_dir: Path, max_model_len: int = 512):
        import transformers

        self.model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
        self.llm_engine = SimpleNamespace(model_config=SimpleNamespace(max_model_len=max_model_len))
        self.calls = 0

    def generate(self, prompts, params, use_tqdm=False):
        self.calls += 1
        return [self._one(p["prompt_token_ids"]) for p in prompts]

    def _one(self, prompt: list[int]) -> SimpleNamespace:
        ids, steps = list(prompt), []
        with torch.no_grad():
            for _ in range(precision.PROBE_NEW_TOKENS):
                logp = torch.log_softmax(self.model(torch.tensor([ids])).logits[0, -1].float(), -1)
                token = int(logp.argmax())
                steps.append({token: SimpleNamespace(logprob=float(logp[token]))})
                ids.append(token)
            full = torch.log_softmax(self.model(torch.tensor([ids])).logits[0].float(), -1)
        prompt_logprobs = [None] + [{prompt[i]: SimpleNamespace(logprob=float(full[i - 1, prompt[i]]))}
                                    for i in range(1, len(prompt))]
        generated = ids[len(prompt):]
        completion = SimpleNamespace(token_ids=generated, logprobs=steps, text=self.tokenizer.decode(generated))
        return SimpleNamespace(outputs=[completion], prompt_logprobs=prompt_logprobs)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("p") / "llama", init_std=0.2)


@pytest.fixture(scope="module")
def other_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("q") / "llama", seed=1, init_std=0.2)


@pytest.fixture(autouse=True)
def _fresh_cache():
    precision._CACHE.clear_memory()
    set_precision_cache_dir(None)
    yield
    precision._CACHE.clear_memory()
    set_precision_cache_dir(None)


def test_auto_is_float32_on_cpu_and_only_reduced_precision_on_cpu_is_checked():
    assert resolve_dtype("auto", on_gpu=False) == "float32"
    assert resolve_dtype("auto", on_gpu=True) == "auto"
    assert resolve_dtype("bfloat16", on_gpu=False) == "bfloat16"
    assert needs_check("bfloat16", on_gpu=False) and needs_check("float16", on_gpu=False)
    assert not needs_check("float32", on_gpu=False) and not needs_check("bfloat16", on_gpu=True)


def test_same_weights_agree_in_float32(model_dir):
    report = measure_parity(TransformersAsVLLM(model_dir), model_dir, "float32")
    assert report.ok, report.summary()
    assert report.mean_abs_logprob_diff < 1e-4 and report.max_top1_gap < 1e-4
    assert report.greedy_divergences == 0
    assert len(report.probes) == len(precision.PROBE_PROMPTS)  # the tiny tokenizer has no chat template
    assert all(p.generated_tokens == precision.PROBE_NEW_TOKENS for p in report.probes)


def test_other_weights_are_a_mismatch_named_with_numbers_and_float32(model_dir, other_dir):
    with pytest.raises(PrecisionMismatch) as caught:
        PrecisionGate(model_dir, "bfloat16").ensure(TransformersAsVLLM(other_dir))
    error = caught.value
    assert error.code == "FAILED_PRECONDITION" and isinstance(error, GenleakError)
    assert "mean |delta log-prob|" in error.message and "use engine.dtype: float32" in error.message
    assert cpu_info()["model"] in error.message


def test_float16_is_checked_and_refused_as_bfloat16_is(model_dir, other_dir):
    # The stand-in answers in float32: float16's rounding is far inside its tolerance, other weights are not.
    report = PrecisionGate(model_dir, "float16").ensure(TransformersAsVLLM(model_dir))
    assert report.ok and report.dtype == "float16" and report.tolerance == TOLERANCES["float16"]
    precision._CACHE.clear_memory()  # the verdict above would answer for the same model and dtype
    with pytest.raises(PrecisionMismatch, match="vllm float16 on this CPU .* use engine.dtype: float32"):
        PrecisionGate(model_dir, "float16").ensure(TransformersAsVLLM(other_dir))


def test_verdicts_are_cached_in_memory_and_in_the_folder(model_dir, tmp_path):
    set_precision_cache_dir(tmp_path / "verdicts")
    llm = TransformersAsVLLM(model_dir)
    first = PrecisionGate(model_dir, "bfloat16").ensure(llm)
    assert not first.cached and llm.calls == 1
    files = list((tmp_path / "verdicts").glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["model_sha256"] == model_content_hash(model_dir)
    again = PrecisionGate(model_dir, "bfloat16").ensure(llm)
    assert again.cached and llm.calls == 1
    precision._CACHE.clear_memory()  # a new process: the file answers
    from_file = PrecisionGate(model_dir, "bfloat16").ensure(llm)
    assert from_file.cached and llm.calls == 1 and from_file.probes == first.probes
    PrecisionGate(model_dir, "float16").ensure(llm)  # another dtype is another verdict
    assert llm.calls == 2


def test_a_cached_mismatch_still_refuses_and_a_damaged_file_is_measured_again(model_dir, other_dir, tmp_path):
    set_precision_cache_dir(tmp_path)
    wrong = TransformersAsVLLM(other_dir)
    for _ in range(2):
        with pytest.raises(PrecisionMismatch):
            PrecisionGate(model_dir, "bfloat16").ensure(wrong)
    assert wrong.calls == 1
    # A known mismatch is refused before any engine starts (the services call this first).
    with pytest.raises(PrecisionMismatch, match="use engine.dtype: float32"):
        PrecisionGate(model_dir, "bfloat16").refuse_known_mismatch()
    PrecisionGate(model_dir, "float16").refuse_known_mismatch()  # no verdict yet: nothing to refuse
    precision._CACHE.clear_memory()
    for path in tmp_path.glob("*.json"):
        path.write_text("{not json")
    right = TransformersAsVLLM(model_dir)
    assert PrecisionGate(model_dir, "bfloat16").ensure(right).ok and right.calls == 1


def test_probes_fit_a_short_context(model_dir):
    report = measure_parity(TransformersAsVLLM(model_dir, max_model_len=24), model_dir, "float32")
    assert all(p.prompt_tokens + p.generated_tokens <= 24 for p in report.probes)


def test_report_roundtrips_through_json_and_judges_by_tolerance():
    probe = ProbeParity("p", 10, 5, mean_abs_logprob_diff=0.1, max_abs_logprob_diff=0.4, max_top1_gap=0.3,
                        greedy_divergence=0, text="x")
    report = ParityReport("vllm", "bfloat16", "abc", platform_fingerprint(), TOLERANCES["bfloat16"], [probe], 1.0)
    assert report.ok and report.greedy_divergences == 1
    assert ParityReport.from_json(json.loads(json.dumps(report.to_json()))) == report
    strict = ParityReport("vllm", "float32", "abc", {}, TOLERANCES["float32"], [probe], 1.0)
    assert not strict.ok


def test_model_hash_is_the_manifest_when_there_is_one(model_dir, tmp_path):
    plain = model_content_hash(model_dir)
    assert plain == model_content_hash(model_dir)
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "MANIFEST.json").write_text('{"files": []}')
    from genleak.core.hashing import sha256_file

    assert model_content_hash(tmp_path) == sha256_file(tmp_path / "MANIFEST.json")


def test_platform_fingerprint_names_the_cpu_and_libraries():
    fingerprint = platform_fingerprint()
    assert fingerprint["cpu"] and len(fingerprint["cpu_flags_sha256"]) == 16
    assert "torch" in fingerprint["libraries"]
    assert fingerprint_key({"a": 1}) != fingerprint_key({"a": 2})
    assert fingerprint["cpu"] in describe_platform() and "torch==" in describe_platform()
