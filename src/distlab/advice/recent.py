"""A per-task cost already measured: the latest ``distlab bench tiny-tasks`` in the
history, when it is recent and from this machine with the versions installed now.

The bench times a map of many no-ops through distlab, as the calibration does, but with
more tasks and several repetitions; the advice uses its median instead of its own
few hundred no-ops. Anything else (another machine, another version of the engine's
libraries, another worker count, a cluster given by its address) and the calibration
measures now.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path

from distlab import registry
from distlab.results import history as store
from distlab.results import library_versions

#: older benches are not reused: the machine's load and set-up drift
MAX_AGE = dt.timedelta(days=7)
#: the bench's variant timed through distlab's map (the other is the engine's own API)
BENCH, VARIANT = "tiny-tasks", "adapter"


def _settings(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split() if "=" in part)


def bench_task_cost(
    engine: str, workers: int, path: Path | None, now: dt.datetime | None = None
) -> tuple[float, str] | None:
    """(seconds per task, where it came from) from the newest matching bench, or None."""
    if path is None or not path.exists():
        return None
    machine = store.machine_identity(socket.gethostname(), os.cpu_count())
    versions = library_versions(registry.entry(engine).libraries)
    now = now or dt.datetime.now(dt.UTC)
    default_workers = str(os.cpu_count() or 1)
    for point in reversed(store.load(path, engine, BENCH, VARIANT)):
        rec, entry = point.recording, point.entry
        settings = _settings(entry.settings)
        bench_workers = settings.get("workers", "-")
        if bench_workers == "-":
            bench_workers = default_workers
        if (
            rec.machine != machine
            or entry.versions != versions
            or bench_workers != str(workers)
            or settings.get("address", "-") != "-"
            or not settings.get("n", "").isdigit()
            or now - dt.datetime.fromisoformat(rec.recorded_at) > MAX_AGE
        ):
            continue
        n = int(settings["n"])
        return entry.median_s / n, f"bench tiny-tasks of {rec.recorded_at[:16]}, {n:,} tasks"
    return None
