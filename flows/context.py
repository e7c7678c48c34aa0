"""The run context of a night: what its tasks share that cannot cross Prefect's API.

Prefect serializes task parameters (for its API and its cache keys) and flow parameters (a deployment's are
JSON), so neither the open DuckDB connection of the build file nor a progress callback can be one. Both
live in context variables instead, each set around the code that uses it and reset after:

    the night          RunState (settings, the open build connection, run id). The nightly flow sets it
                       with `with night_context(state):` once the build file is open; its tasks, and the
                       scale-out steps in flows/scaleout.py, read it with current_night().
    progress           a callable(kind, **info) for progress bars. The caller of the flow sets it around
                       the call (`with reporting_progress(bars): nightly(...)`, as `sara run` does); the
                       flow calls progress(kind, **info), which does nothing when none is set.

A flow called in a thread, and its tasks and subflows called inline, see the values of that thread's
context; a second night in another thread (a served deployment) has its own. Nothing assigns a module
attribute, and a night that ends, however it ends, leaves neither behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import duckdb

from transforms.config import Settings


@dataclass
class RunState:
    settings: Settings
    con: duckdb.DuckDBPyConnection | None  # the build file; reopened when the scaled-out marts hand it over
    run_id: str


_night: ContextVar[RunState | None] = ContextVar("sara_night", default=None)
_progress: ContextVar[Callable[..., Any] | None] = ContextVar("sara_progress", default=None)


@contextmanager
def night_context(state: RunState) -> Iterator[RunState]:
    token = _night.set(state)
    try:
        yield state
    finally:
        _night.reset(token)


def current_night() -> RunState:
    state = _night.get()
    if state is None:
        raise RuntimeError("no nightly run in progress")
    return state


@contextmanager
def reporting_progress(callback: Callable[..., Any]) -> Iterator[None]:
    """Send the progress of the nights run inside to callback(kind, **info): kind "source" (source, files),
    "file" (source, path, status) or "normalized" (source)."""
    token = _progress.set(callback)
    try:
        yield
    finally:
        _progress.reset(token)


def progress(kind: str, **info) -> None:
    callback = _progress.get()
    if callback is not None:
        callback(kind, **info)
