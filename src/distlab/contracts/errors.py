"""Errors every layer shares, and how a task's exception keeps its remote traceback.

A :class:`DistlabError` is meant for the user: the command line prints it as one line and
exits with 2. :class:`TaskLost` says an engine lost a task (a dead worker), as opposed to
a task that raised. Task exceptions are not wrapped: a task's own exception type reaches the
caller, with the worker's traceback text as ``exc.__cause__`` (a :class:`RemoteTraceback`).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none): what
    a one-line error, a table cell or a log line shows of it."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def error_line(exc: BaseException) -> str:
    """``Type: first line`` of an exception (the type alone when it has no message)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip().rstrip(":")


class DistlabError(Exception):
    """An error meant for the user: printed as one line, exit code 2."""


class EngineUnavailable(DistlabError):
    """The engine's library is not installed (carries the install hint)."""


class EngineStartError(DistlabError):
    """The engine (or the server it needs) could not be started or reached."""


class UnsatisfiableResources(DistlabError):
    """A task asked for more of a resource than the whole cluster has."""


class TaskLost(DistlabError):
    """The engine lost a task: its worker (or the process holding its result) died and
    the engine will not deliver the result. Each engine turns ITS loss signal into this
    where it surfaces (a future's ``result()``, ``gather``); only this counts as a lost
    task. Any other exception a task raises is the task's own failure."""


class BrokerLost(DistlabError):
    """The broker an engine depends on died (or stayed unreachable) and did not come back
    in time: the engine cannot run or finish tasks. Raised by the engine within seconds,
    naming the broker, instead of waiting for results that cannot come. Not a TaskLost:
    the cell fails with it, it is not counted as a lost task."""


class RemoteTraceback(Exception):
    """Carries the traceback text of a task that failed on a worker."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


#: the attribute a failed task's exception carries its traceback text in
TB_ATTR = "_distlab_remote_tb"


def call_capturing(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Run ``fn`` on a worker; on failure tag the exception with its traceback text.

    Exception attributes survive pickling (BaseException.__reduce__ keeps __dict__), so
    the caller can rebuild the remote traceback whatever the engine's transport.
    """
    try:
        return fn(*args, **kwargs)
    except BaseException as exc:
        try:
            setattr(exc, TB_ATTR, traceback.format_exc())
        except Exception:  # exceptions with __slots__: keep the error, lose the text
            pass
        raise


def remote_traceback_text(exc: BaseException) -> str | None:
    """The worker's traceback text a failed task's exception carries, if any."""
    return getattr(exc, TB_ATTR, None)


def with_remote_traceback(exc: BaseException) -> BaseException:
    """Attach the tagged remote traceback (if any) as ``__cause__`` and return ``exc``."""
    text = remote_traceback_text(exc)
    if text and not isinstance(exc.__cause__, RemoteTraceback):
        exc.__cause__ = RemoteTraceback(text)
    return exc
