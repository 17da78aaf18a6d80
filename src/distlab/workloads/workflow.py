"""Running a workflow's steps reliably: retries, an on-disk result cache, a run log.

Generic machinery for a workload that is a graph of named steps (microscopy): it knows
nothing of what a step computes. A step is a callable ``call(fail) -> (value, timing)``
that runs on an engine; ``Workflow.step`` gives it its cache key and

* returns the cached value when the same inputs were seen before (the step never runs);
* else runs it, and re-runs it after a failure up to ``max_retries`` times, then raises
  StepFailed. Which attempts fail is injected, reproducibly, by a FailurePlan (``fail``
  tells the step to raise TransientStepError on the worker, as a real glitch would);
* reports every state change (running, retry, done, cached, failed) to the workload's
  monitor, live, and keeps them as the run's timeline.

The helpers at the top (``raise_if_injected``, ``step_timing``) run inside steps on the
workers, so this module stays importable there: numpy and the standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import socket
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: bump when the pickled step results change shape: old cache files then never match
CACHE_FORMAT = 1

#: what a step returns beside its value: when it ran (epoch seconds) and on which worker
StepTiming = dict[str, Any]
#: a step as the workflow calls it: ``call(fail)`` -> (value, StepTiming)
StepCall = Callable[[bool], tuple[Any, StepTiming]]


class TransientStepError(RuntimeError):
    """An injected, transient failure of a step (a camera glitch, a lost worker)."""


class StepFailed(RuntimeError):
    """A step still failed after every retry."""


# -- inside a step, on the worker ------------------------------------------------------------
def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def raise_if_injected(step: str, fail: bool) -> None:
    if fail:
        raise TransientStepError(f"injected transient failure in {step}")


def step_timing(start: float) -> StepTiming:
    """The timing a step returns: it started at ``start`` and ends now, on this worker."""
    return {"start": start, "end": time.time(), "worker": worker_id()}


# -- which attempts fail -----------------------------------------------------------------------
@dataclass(frozen=True)
class FailurePlan:
    """Which attempts of which steps fail, decided before they run so that a run can be
    repeated exactly: ``planned`` fails a named step's first N attempts; otherwise each
    attempt fails with probability ``rate``, drawn from (seed, step name, attempt)."""

    planned: Mapping[str, int] = field(default_factory=dict)
    rate: float = 0.0
    seed: int = 0

    def fails(self, step: str, attempt: int) -> bool:
        if step in self.planned:
            return attempt < int(self.planned[step])
        if self.rate <= 0:
            return False
        rng = np.random.default_rng([self.seed, zlib.crc32(step.encode()), attempt])
        return bool(rng.random() < self.rate)


# -- the result cache ----------------------------------------------------------------------------
class StepCache:
    """Step results on disk, one file per key (written whole, then renamed into place)."""

    SUFFIX = ".step.pkl"

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(kind: str, **inputs: Any) -> str:
        """A key from everything that shapes a step's result (JSON-able inputs)."""
        text = json.dumps({"format": CACHE_FORMAT, "kind": kind, **inputs}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}{self.SUFFIX}"

    def get(self, key: str) -> tuple[bool, Any]:
        """(True, value) when the key was stored; (False, None) otherwise."""
        try:
            with open(self._path(key), "rb") as f:
                return True, pickle.load(f)
        except (FileNotFoundError, EOFError, pickle.UnpicklingError):
            return False, None

    def put(self, key: str, value: Any) -> None:
        # a concurrent reader sees the old file or the whole new one, never half of it
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=5)
        os.replace(tmp, self._path(key))

    def clear(self) -> int:
        removed = 0
        for path in self.directory.glob(f"*{self.SUFFIX}"):
            path.unlink(missing_ok=True)
            removed += 1
        return removed


# -- one run's bookkeeping: timeline, retries, cache hits, live events -------------------------------
class RunLog:
    """What one run of a workflow did. Steps run in several threads at once: every
    counter and the timeline change under one lock."""

    def __init__(self, monitor: Callable[..., None]):
        self.t0 = time.time()
        self.monitor = monitor
        self.timeline: list[dict[str, Any]] = []
        #: each finished step's own time, failed attempts included (0 when cached)
        self.durations: dict[str, float] = {}
        self.retries = 0
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the run started."""
        return time.time() - self.t0

    def event(self, step: str, state: str, start: float, end: float, worker: str, **extra) -> None:
        entry = {
            "step": step,
            "state": state,
            "start": start,
            "end": end,
            "worker": worker,
            **extra,
        }
        with self._lock:
            if state != "running":
                self.timeline.append(entry)
            self.monitor(
                step=step, state=state, seconds=round(end - start, 4), t=round(end, 4), **extra
            )

    def cached(self, step: str) -> None:
        with self._lock:
            self.hits += 1
            self.durations[step] = 0.0

    def missed(self) -> None:
        with self._lock:
            self.misses += 1

    def retried(self) -> None:
        with self._lock:
            self.retries += 1

    def finished(self, step: str, seconds: float) -> None:
        with self._lock:
            self.durations[step] = seconds


# -- running one step -------------------------------------------------------------------------------
class Workflow:
    """Runs the steps of one workflow run through the cache, with retries, into the log."""

    def __init__(
        self, cache: StepCache, log: RunLog, max_retries: int, failures: FailurePlan
    ) -> None:
        self.cache, self.log = cache, log
        self.max_retries = max_retries
        self.failures = failures

    def step(self, step: str, key: str, call: StepCall) -> Any:
        """Run one step: from the cache if its inputs were seen, else on the engine with retries."""
        log = self.log
        start = log.now()
        hit, value = self.cache.get(key)
        if hit:
            log.cached(step)
            log.event(step, "cached", start, log.now(), "cache")
            return value
        log.missed()
        spent_failing = 0.0
        for attempt in range(self.max_retries + 1):
            begin = log.now()
            log.event(step, "running", begin, begin, "", attempt=attempt)
            try:
                value, info = call(self.failures.fails(step, attempt))
            except Exception as exc:
                end = log.now()
                spent_failing += end - begin
                # inline: this module runs on workers without distlab (see above)
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                if attempt == self.max_retries:
                    log.event(step, "failed", begin, end, "", attempt=attempt, error=error)
                    raise StepFailed(
                        f"step {step} failed after {attempt + 1} attempts: {error}"
                    ) from exc
                log.retried()
                log.event(step, "retry", begin, end, "", attempt=attempt, error=error)
                continue
            # the step's own time, as the worker measured it
            w_start, w_end = info["start"] - log.t0, info["end"] - log.t0
            log.finished(step, spent_failing + (w_end - w_start))
            log.event(step, "done", w_start, w_end, info["worker"], attempt=attempt)
            self.cache.put(key, value)
            return value
        raise AssertionError("unreachable")
