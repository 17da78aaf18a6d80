"""`distlab bench tpch`: TPC-H on every dataframe engine at growing scale factors, each
answer checked, sized until each engine breaks (as db-benchmark marks its sizes).

Per scale factor (smallest first) the tables are made (outside any timing), then each
engine runs the queries in an engine process of its own (:mod:`distlab.bench.tpch_cell`).
The parent watches that process: a query still running after ``time_limit_s`` is stopped,
and so is the process tree when its memory passes ``memory_limit_mb`` (before the
kernel's OOM killer takes it, or the rest of the machine); a process killed by a signal,
an engine's own error and a wrong answer stop a query too. Each is recorded with its
reason at that scale; the engine's other queries go on in a fresh process, and the
larger scales are not tried for that engine and query.

Answers: compared with TPC-H's answer sets where they exist (SF 1; SF 0.01 and 0.1 all
but Q13), and otherwise across engines: a query's answer is ``agreed`` when it matches
(with the stated tolerance) the answers of a majority of the engines that returned one,
at least two; else ``disputed``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from distlab.bench.model import BenchJob
from distlab.procs import stop_pids, tree
from distlab.run.launcher import EngineProcess
from distlab.run.model import BenchMeasured
from distlab.workloads import answers, tpch_data

#: how often the parent looks at the engine process (events, elapsed time, memory)
POLL_S = 0.25
#: the memory limit by default: this share of the machine's RAM
MEMORY_SHARE = 0.8


def default_memory_limit_mb() -> float:
    return psutil.virtual_memory().total * MEMORY_SHARE / 2**20


def run_tpch(
    engines: list[str], scales: list[float], queries: list[str], params: dict[str, Any],
    progress=print,
) -> list[dict[str, Any]]:  # fmt: skip
    """Every engine at every scale factor until it breaks: the rows of every query."""
    rows: list[dict[str, Any]] = []
    broken: dict[tuple[str, str], str] = {}  # (engine, query) -> where and why it broke
    for sf in sorted(scales):
        folder = tpch_data.data_root(params.get("data_dir")) / "tpch" / tpch_data.scale_name(sf)
        if not (folder / tpch_data.MANIFEST).exists():
            progress(f"making TPC-H SF {sf:g} (once; kept for later runs) ...")
        started = time.perf_counter()
        made = tpch_data.tables(sf, params.get("data_dir"))
        rows.append({"event": "data", "sf": sf, "seconds": round(time.perf_counter() - started, 1),
                     "manifest": tpch_data.manifest_of(made["lineitem"])})  # fmt: skip
        for engine in engines:
            todo = [q for q in queries if (engine, q) not in broken]
            for q in queries:
                if (engine, q) in broken:
                    rows.append({"engine": engine, "sf": sf, "event": "query", "query": q,
                                 "status": "not tried", "reason": broken[(engine, q)]})  # fmt: skip
            if not todo:
                continue
            progress(f"SF {sf:g}: {engine} ({len(todo)} queries) ...")
            for row in _engine_at_scale(engine, sf, todo, params):
                rows.append(row)
                if row.get("event") == "query" and row["status"] not in ("ok", "unsupported"):
                    broken[(engine, row["query"])] = f"{row['status']} at SF {sf:g}"
    check_agreement(rows)
    return rows


def _engine_at_scale(engine: str, sf: float, queries: list[str], params: dict[str, Any]) -> list:
    """The engine's rows at one scale: a fresh process after a query that was stopped."""
    rows: list[dict[str, Any]] = []
    remaining = list(queries)
    while remaining:
        job = BenchJob(engine=engine, workers=params.get("workers"),
                       params={"sf": sf, "queries": remaining, "repeats": params["repeats"],
                               "data_dir": params.get("data_dir")})  # fmt: skip
        got, stopped = _watch(job, params["time_limit_s"], params["memory_limit_mb"])
        rows += got
        done = {r["query"] for r in got if r.get("event") == "query"}
        remaining = [q for q in remaining if q not in done]
        if stopped is None:
            break  # it went through (or ended without a word: nothing more to learn)
        if stopped["query"] is None:  # stopped before its first query: so is every one
            reason = f"before its first query: {stopped['reason']}"
            rows += [stopped | {"query": q, "reason": reason} for q in remaining]
            break
        rows.append(stopped)
        remaining = [q for q in remaining if q != stopped["query"]]
    return rows


def _watch(job: BenchJob, time_limit_s: float, memory_limit_mb: float):
    """Run one engine process; its rows, and the row of a query it had to stop (or None)."""
    rows: list[dict[str, Any]] = []
    running, since = None, time.monotonic()
    # short, so that Ray puts its session in it too (its socket paths must fit in 107
    # bytes: a longer TMPDIR sends it to /tmp, where a killed engine's session stayed)
    root = tempfile.gettempdir()
    with tempfile.TemporaryDirectory(prefix="dlb-", dir=root if len(root) <= 8 else "/tmp") as tmp:
        # the engine's temporary files (a spill folder) go in our folder: removed with it
        # even when the process had to be killed before it could clean up
        ep = EngineProcess(job, Path(tmp), mode="tpch", module="distlab.bench.process",
                           env={"TMPDIR": tmp})  # fmt: skip
        stopped = None
        try:
            while True:
                for ev in ep.new_events():
                    if isinstance(ev, BenchMeasured):
                        row = ev.row
                        if row.get("event") == "running":
                            running, since = row["query"], time.monotonic()
                        elif "error" in row and "event" not in row:  # the cell itself failed
                            stopped = _stop_row(job, running, "failed", row["error"])
                        else:
                            rows.append(row)
                if ep.proc.poll() is not None:
                    break
                elapsed = time.monotonic() - since
                if running is not None and elapsed > time_limit_s:
                    stopped = _stop_row(job, running, "time limit",
                                        f"still running after the {time_limit_s:.0f} s limit")  # fmt: skip
                    break
                used = _tree_mb(ep.proc.pid)
                if used > memory_limit_mb:
                    stopped = _stop_row(job, running, "out of memory",
                                        f"its processes held {used / 1024:.1f} GiB, past the "
                                        f"{memory_limit_mb / 1024:.1f} GiB limit")  # fmt: skip
                    stop_pids([p.pid for p in tree([ep.proc.pid])], grace=0.5)
                    break
                time.sleep(POLL_S)
        finally:
            ep.stop(grace=10.0)
        for ev in ep.new_events():  # what it wrote before it ended
            if isinstance(ev, BenchMeasured) and ev.row.get("event") not in ("running", None):
                rows.append(ev.row)
        code = ep.proc.returncode
        if stopped is None and code is not None and code < 0:
            stopped = _stop_row(job, running, "killed", f"killed by signal {-code}"
                                + (" (the kernel's OOM killer?)" if code == -9 else ""))  # fmt: skip
        if stopped is None and not any(r.get("event") == "done" for r in rows):
            stopped = _stop_row(job, running, "failed", ep.log_tail(3) or "it ended without a word")
    if stopped is not None and running is None:
        stopped["query"] = None  # it failed before its first query (e.g. did not start)
    return rows, stopped


def _stop_row(job: BenchJob, query: str | None, status: str, reason: str) -> dict[str, Any]:
    return {"engine": job.engine, "sf": job.params["sf"], "event": "query", "query": query,
            "status": status, "reason": reason}  # fmt: skip


def _tree_mb(pid: int) -> float:
    total = 0
    for proc in tree([pid]):
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def check_agreement(rows: list[dict[str, Any]]) -> None:
    """Mark each answer without a stored answer set ``agreed`` or ``disputed`` (in place)."""
    groups: dict[tuple[float, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("event") == "query" and row.get("status") == "ok" and "checked_by" not in row:
            groups.setdefault((row["sf"], row["query"]), []).append(row)
    for group in groups.values():
        for row in group:
            peers = [o for o in group if _same(row, o)]
            agreed = len(peers) >= 2 and len(peers) * 2 > len(group)
            row["checked_by"] = f"agreement of {len(peers)} of {len(group)} engines"
            row["verified"] = agreed
            if not agreed:
                reason = (
                    f"its answer matches {len(peers)} of {len(group)} engines'"
                    if len(group) > 1
                    else "no answer set at this scale and no other engine's answer to agree with"
                )
                row |= {"status": "disputed", "reason": reason}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    rows_a = [tuple(r) for r in a["answer"]]
    rows_b = [tuple(r) for r in b["answer"]]
    columns = [str(i) for i in range(len(rows_b[0]))] if rows_b else []
    return answers.compare(rows_a, rows_b, columns) is None
