"""How many CPU threads torch should use: the cores this process may really run on (the finetuner, the
lab's pretraining and the tests all set it here).

os.cpu_count() and even the affinity mask over-count inside a container with a CPU quota;
more intra-op threads than cores makes OpenMP threads wait on each other at every op,
which on small models was 10-50x slower than one thread (measured on a shared 2-core VM).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

log = logging.getLogger(__name__)

CGROUP_V2_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def available_cpus() -> int:
    cpus = len(os.sched_getaffinity(0))
    quota = cgroup_cpu_quota()
    return max(1, min(cpus, math.ceil(quota))) if quota else cpus


def cgroup_cpu_quota() -> float | None:
    """CPUs' worth of time the cgroup may use per period, or None when unlimited/unknown."""
    try:
        if CGROUP_V2_CPU_MAX.is_file():
            quota, period = CGROUP_V2_CPU_MAX.read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        if CGROUP_V1_QUOTA.is_file():
            quota_us = int(CGROUP_V1_QUOTA.read_text())
            return None if quota_us <= 0 else quota_us / int(CGROUP_V1_PERIOD.read_text())
    except (OSError, ValueError):
        return None
    return None


@contextmanager
def torch_threads(requested: int | None) -> Iterator[int]:
    """Use `requested` (default: available_cpus()) threads inside the block; the old count is restored."""
    previous = torch.get_num_threads()
    threads = requested or available_cpus()
    if threads != previous:
        log.info("torch threads %d -> %d", previous, threads)
        torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(previous)
