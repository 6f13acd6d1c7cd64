"""`torch_threads(n)`: run a block with `n` intra-op torch threads (tests on a shared machine).

Importable from every test as `from torch_threads import torch_threads`: tests/ is on sys.path
(pytest puts the folder of tests/conftest.py there).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with `n` intra-op torch threads, then restore.

    On a shared machine, tiny models with one thread per core crawl when another process
    holds a core (every op waits at an OpenMP barrier): 1 thread ran the hf unit tests
    about 5x faster under load.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
