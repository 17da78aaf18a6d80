"""The engine process of a benchmark: ``python -m distlab.bench.process KIND JOB EVENTS``.

It runs one benchmark cell (``KIND``) for the job's engine and reports its row as an
event, with the same parent watch and SIGTERM handling as a matrix's engine process.
"""

from __future__ import annotations

import importlib
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distlab.bench.model import BenchJob
from distlab.contracts import error_line
from distlab.run.cell import Events, exit_with_parent
from distlab.run.model import BenchMeasured, Finished, Interrupted

#: bench kind -> "module:function" the engine process runs for it (named, not imported:
#: each benchmark's module is imported only when it runs)
CELLS = {
    "granularity": "distlab.bench.tasks:granularity_cell",
    "tiny-tasks": "distlab.bench.tasks:tiny_tasks_cell",
    "streams": "distlab.bench.streams:streams_cell",
    "break-even": "distlab.bench.break_even:break_even_cell",
    "data-size": "distlab.bench.data_size:data_size_cell",
    "rtt": "distlab.bench.rtt:rtt_cell",
    "rtt-query": "distlab.bench.rtt_query:rtt_query_cell",
    "queues": "distlab.bench.queues:queues_cell",
    "tpch": "distlab.bench.tpch_cell:tpch_cell",
}
#: the benches whose cell reports rows as it goes (``cell(job, emit)``): the parent
#: learns which step was running when it has to stop one
STREAMING = {"tpch"}


def cell_function(kind: str) -> Callable[..., dict[str, Any]]:
    """The function of bench ``kind`` (a KeyError for an unknown one)."""
    module, func = CELLS[kind].split(":")
    return getattr(importlib.import_module(module), func)


def main(argv: list[str]) -> int:
    kind, job_path, events_path = argv
    job = BenchJob.from_json(Path(job_path).read_text())
    events = Events(events_path)

    # The parent asks us to stop with SIGTERM: unwind through the finally blocks so the
    # engine's close() stops what it started.
    def _terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    exit_with_parent()
    try:
        try:
            if kind in STREAMING:
                row = cell_function(kind)(job, lambda r: events.emit(BenchMeasured(r)))
            else:
                row = cell_function(kind)(job)
        except Exception as exc:  # the bench table shows the error in this engine's row
            row = {"engine": job.engine, "error": error_line(exc)}
        events.emit(BenchMeasured(row))
    except KeyboardInterrupt:
        events.emit(Interrupted())
        return 130
    events.emit(Finished())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
