import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
# Idle OpenMP workers must sleep, not spin: spinning threads make torch 10-50x slower on 2 shared cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# ---- robustness tally (tests/*/test_robustness_*.py): what the fuzz, fault and load tests tried,
# printed once at the end of the run so CI logs show the inputs tried and that nothing was lost.

import collections  # noqa: E402
import threading  # noqa: E402

import pytest  # noqa: E402


class RobustnessTally:
    """Thread-safe counters and figures: `count(area, outcome)` per input tried, `figure(name, text)`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.figures: dict[str, str] = {}

    def count(self, area: str, outcome: str, n: int = 1) -> None:
        with self._lock:
            self.counts[area][outcome] += n

    def figure(self, name: str, text: str) -> None:
        with self._lock:
            self.figures[name] = text


_TALLY = RobustnessTally()


@pytest.fixture(scope="session")
def robustness_tally() -> RobustnessTally:
    return _TALLY


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _TALLY.counts and not _TALLY.figures:
        return
    write = terminalreporter.write_line
    terminalreporter.section("robustness summary (fuzz, safety, load)")
    total = 0
    for area in sorted(_TALLY.counts):
        outcomes = _TALLY.counts[area]
        n = sum(outcomes.values())
        total += n
        write(f"{area:<40} {n:>6} tried: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    write(f"{'total':<40} {total:>6} inputs tried; every one was answered (none lost, none INTERNAL)"
          if exitstatus == 0 else f"{'total':<40} {total:>6} inputs tried; SEE FAILURES ABOVE")
    for name in sorted(_TALLY.figures):
        write(f"{name}: {_TALLY.figures[name]}")


def pytest_report_header(config):
    """Which machine ran the suite: numerics differ by CPU (bf16 kernels) and library versions."""
    from genleak.core.platform_info import describe_platform

    return f"genleak platform: {describe_platform()}"


@pytest.fixture()
def cli_leaves_no_trace():
    """genleak's main() configures the root logger and sets library defaults in the environment: both are
    put back, so the tests after a CLI test see the logging and environment they expect."""
    import logging

    env, root = dict(os.environ), logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    os.environ.clear()
    os.environ.update(env)
    root.handlers[:], root.level = handlers, level
