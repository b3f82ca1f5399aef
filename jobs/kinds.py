"""Who runs a job of a kind other than analysis: the app that owns the kind registers it here.

jobs never imports those apps (they build on jobs); `backtests.apps` registers the backtest's executor.
"""

from collections.abc import Callable

_executors: dict[str, Callable[..., str]] = {}


def register_executor(kind: str, execute: Callable[..., str]) -> None:
    """`execute(job_id=..., attempt=...)` runs a claimed job of `kind` and says how it ended."""
    _executors[str(kind)] = execute


def executor_for(kind: str) -> Callable[..., str] | None:
    return _executors.get(str(kind))
