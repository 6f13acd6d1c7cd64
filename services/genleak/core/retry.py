"""The one retry policy: exponential backoff with jitter, bounded by a time budget, on tenacity.

A budget of time, not a count of attempts, bounds the retries: an outage (a pod restart, an S3
endpoint coming back) lasts as long as it lasts, and the caller wants to know how long it will wait.
The last sleep is cut short so the final attempt lands on the deadline, and a budget of 0 tries once.

Jitter rule ("equal jitter"): each delay is the exponential ceiling
min(max_delay_seconds, initial_delay_seconds * multiplier ** retry) of which the fraction `jitter` is
random, so many clients cut off by the same outage do not come back in lockstep.

Callers say what is worth another try by raising TransientFailure (with a reason for the log) from
the operation; anything else propagates at once. Each retry is logged on the caller's logger, and a
spent budget is RetryBudgetSpent, which the caller turns into its own domain error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, NoReturn, TypeVar

import tenacity

from genleak.core.metrics import count_retry

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how fast to retry. Delays grow from initial_delay_seconds by `multiplier` per
    retry up to max_delay_seconds; `jitter` is the random fraction of each delay (0.5 = equal jitter)."""

    budget_seconds: float = 60.0
    initial_delay_seconds: float = 0.5
    max_delay_seconds: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.budget_seconds < 0 or self.initial_delay_seconds < 0 or self.max_delay_seconds < 0:
            raise ValueError(f"retry budget and delays must be >= 0: {self}")
        if self.multiplier < 1 or not 0 <= self.jitter <= 1:
            raise ValueError(f"retry multiplier must be >= 1 and jitter within [0, 1]: {self}")

    def wait(self) -> tenacity.wait.wait_base:
        """The delay before each retry, as a tenacity wait: a fixed part plus a random part."""
        fixed = 1.0 - self.jitter
        return (tenacity.wait_exponential(multiplier=self.initial_delay_seconds * fixed,
                                          max=self.max_delay_seconds * fixed, exp_base=self.multiplier)
                + tenacity.wait_random_exponential(multiplier=self.initial_delay_seconds * self.jitter,
                                                   max=self.max_delay_seconds * self.jitter,
                                                   exp_base=self.multiplier))


class TransientFailure(Exception):
    """Raised by an operation for a failure worth another try; `reason` is what the log shows."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class RetryBudgetSpent(Exception):
    """The operation kept failing transiently for the whole budget."""

    def __init__(self, reason: str, attempts: int, elapsed_seconds: float, budget_seconds: float):
        super().__init__(f"{reason} (after {attempts} attempts in {elapsed_seconds:.1f}s)")
        self.reason = reason
        self.attempts = attempts
        self.elapsed_seconds = elapsed_seconds
        self.budget_seconds = budget_seconds


def call_with_retry(operation: Callable[[], T], policy: RetryPolicy, *, what: str, log: logging.Logger) -> T:
    """`operation()`, tried again after each TransientFailure until the policy's budget is spent.
    `what` names the operation in each retry's log line (e.g. "S3 upload of s3://b/k"); its part before
    " of " labels the retry counter (genleak_retries_total{operation="s3_upload"}), so keep ids after it."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TransientFailure),
        wait=_within_budget(policy),
        stop=tenacity.stop_after_delay(policy.budget_seconds),
        before_sleep=_log_retry(policy, what, log),
        retry_error_callback=_give_up(policy),
    )
    return retrying(operation)


def _within_budget(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], float]:
    """The policy's delay, cut so the next attempt starts no later than the deadline."""
    backoff = policy.wait()

    def wait(state: tenacity.RetryCallState) -> float:
        return max(0.0, min(backoff(state), policy.budget_seconds - state.seconds_since_start))

    return wait


def _log_retry(policy: RetryPolicy, what: str, log: logging.Logger) -> Callable[[tenacity.RetryCallState], None]:
    def before_sleep(state: tenacity.RetryCallState) -> None:
        count_retry(what)
        left = policy.budget_seconds - state.seconds_since_start
        log.warning("%s failed (%s); retry %d in %.2fs (%.1fs of the %gs retry budget left)", what,
                    _reason(state), state.attempt_number, state.upcoming_sleep, left, policy.budget_seconds)

    return before_sleep


def _give_up(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], NoReturn]:
    def give_up(state: tenacity.RetryCallState) -> NoReturn:
        raise RetryBudgetSpent(_reason(state), state.attempt_number, state.seconds_since_start,
                               policy.budget_seconds)

    return give_up


def _reason(state: tenacity.RetryCallState) -> str:
    return state.outcome.exception().reason
