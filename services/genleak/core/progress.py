"""Progress reporting and cooperative cancellation for long work.

Core functions take a `Reporter`; the job manager turns reports into gRPC progress
events and the CLI into progress bars. Cancellation is cooperative: long loops call
`reporter.check()` between units of work.
"""

from __future__ import annotations

import threading
from typing import Callable

from genleak.core.errors import Cancelled

ProgressCallback = Callable[[str, int, int, str], None]


class Reporter:
    """Carries a progress callback (stage, done, total, message) and a cancel flag."""

    def __init__(self, callback: ProgressCallback | None = None, cancel_event: threading.Event | None = None):
        self._callback = callback
        self._cancel = cancel_event or threading.Event()

    def update(self, stage: str, done: int, total: int, message: str = "") -> None:
        self.check()
        if self._callback is not None:
            self._callback(stage, done, total, message)

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled("job cancelled")

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()


class ForwardingReporter(Reporter):
    """Updates go to `forward(stage, done, total, message)`; cancellation is the inner reporter's."""

    def __init__(self, forward: ProgressCallback, inner: Reporter):
        super().__init__(forward)
        self._inner = inner

    def check(self) -> None:
        self._inner.check()

    def cancel(self) -> None:
        self._inner.cancel()

    @property
    def cancelled(self) -> bool:
        return self._inner.cancelled


NULL_REPORTER = Reporter()
