"""``distlab bench data-size``: what moving data costs on each engine, and where it stops.

For each payload (NumPy arrays from 1 KB to 256 MB, and a pandas DataFrame), three ways
a task meets data, each timed as one round trip from the driver:

* ``argument``: the driver's array is a task's argument; the task returns its checksum;
* ``result``: the task makes the array and returns it; the driver checks it;
* ``shared``: the driver shares the array once (``engine.share``: Ray's object store,
  Dask's scatter, Spark's broadcast; by value elsewhere), then ``2 x workers`` tasks
  read it and return its checksum; timed from the share to the last result.

The MB/s of every way counts the payload once per round trip: a shared payload is shared
once, however many tasks read it. Every answer is checked against the checksum (crc32 of
the values) computed in the driver, outside the timing. The time to make the payload and
to compute one checksum in the driver is recorded beside each size (a task does one of
them in every round trip), so that the transfer's own share of a round trip can be read
off. Sizes run from small to large; the first failure of a way (an error, a timeout) is
recorded with its reason and the larger sizes of that way are not tried.
"""

from __future__ import annotations

import time
from typing import Any

from distlab import registry
from distlab.bench.model import BenchJob
from distlab.contracts import error_line
from distlab.contracts.measured import data_path
from distlab.probes import checksum, payload, payload_frame
from distlab.report.choose_tables import size_text
from distlab.stats import summarize

KB, MB = 1024, 1024 * 1024
SIZES = (1 * KB, 1 * MB, 16 * MB, 256 * MB)
DEFAULTS: dict[str, Any] = {
    "sizes": list(SIZES),
    "frame_bytes": 16 * MB,
    "repeats": 3,
    "timeout_s": 120.0,
}
WAYS = ("argument", "result", "shared")


def data_size_cell(job: BenchJob) -> dict[str, Any]:
    """One engine's table (runs inside the engine's own process)."""
    p = {**DEFAULTS, **{k: v for k, v in job.params.items() if v is not None}}

    def fresh():
        engine = registry.create(job.engine, address=job.address, workers=job.workers)
        engine.start()
        return engine

    t0 = time.perf_counter()
    eng = fresh()
    out: dict[str, Any] = {"engine": job.engine, "startup_s": time.perf_counter() - t0}
    payloads = [("array", n) for n in sorted(p["sizes"])]
    if p["frame_bytes"]:
        payloads.append(("DataFrame", p["frame_bytes"]))
    stopped: dict[tuple[str, str], str] = {}
    try:
        out["workers"] = workers = eng.workers or 1
        out["copies"] = data_path(eng)
        out["points"] = []
        for kind, nbytes in payloads:
            make = payload if kind == "array" else payload_frame
            make(KB, 0)  # its imports (pandas) are not the payload's cost
            started = time.perf_counter()
            data = make(nbytes, 1)
            made = time.perf_counter()
            expected = checksum(data)
            point: dict[str, Any] = {
                "payload": kind,
                "bytes": expected[1],
                # the work inside a round trip that is not the transfer, timed here
                "make_s": made - started,
                "checksum_s": time.perf_counter() - made,
            }
            for way in WAYS:
                if (kind, way) in stopped:
                    point[way] = {"skipped": f"not tried: {stopped[kind, way]}"}
                    continue
                point[way] = _way(eng, way, make, data, nbytes, expected, workers, p)
                if "error" not in point[way]:
                    continue
                stopped[kind, way] = f"failed at {size_text(nbytes)}"
                broken = eng.health()
                if broken:  # e.g. a JVM out of heap: the next way gets a fresh engine
                    point[way]["engine_restarted"] = broken
                    eng.close()
                    eng = fresh()
            out["points"].append(point)
            del data
    finally:
        eng.close()
    return out


def _way(eng, way, make, data, nbytes, expected, workers, p) -> dict[str, Any]:
    timeout = p["timeout_s"]

    def once() -> float:
        t = time.perf_counter()
        if way == "argument":
            got = [eng.submit(checksum, data).result(timeout)]
        elif way == "result":
            got = [eng.submit(make, nbytes, 1).result(timeout)]
        else:
            handle = eng.share(data)
            futures = [eng.submit(checksum, handle) for _ in range(2 * workers)]
            got = [f.result(timeout) for f in futures]
        wall = time.perf_counter() - t
        if way == "result":  # the driver's check of what came back, outside the timing
            got = [checksum(g) for g in got]
        if any(g != expected for g in got):
            raise ValueError(f"checksum mismatch: {got[0]} != {expected}")
        return wall

    try:
        once()  # warm-up: the engine's first sight of this function and size
        samples = [once() for _ in range(p["repeats"])]
    except Exception as exc:
        return {"error": error_line(exc)}
    wall = summarize(samples)
    tasks = 2 * workers if way == "shared" else 1
    # the payload once per round trip, every way alike: whether serving its readers took
    # the engine one copy or one per task depends on the engine (its ``copies`` record),
    # so a multiple per reading task would claim copies that were never counted
    return {"wall": wall, "tasks": tasks, "mb_per_s": nbytes / MB / wall["median"]}
