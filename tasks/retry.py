"""Prefect retry conditions: retry a task only when its error is transient.

Why: Prefect retries every failure by default; bad data must fail at once (and be
recorded), while network, I/O and lost-worker errors deserve another try.
"""
from __future__ import annotations

from collections.abc import Callable


def retry_only_when(is_transient: Callable[[BaseException], bool]) -> Callable:
    """A ``retry_condition_fn`` that retries only errors ``is_transient`` accepts."""

    def condition(task, task_run, state) -> bool:
        try:
            state.result()
        except BaseException as exc:  # noqa: BLE001 - classify whatever the task raised
            return is_transient(exc)
        return False

    return condition
