"""The conformance checks themselves: plain functions of a started engine.

They import nothing but distlab, NumPy, psutil and the standard library, so that an engine
living in an environment of its own (Flink) runs the very same checks there
(``python -m conformance.remote``); the pytest suites beside this module call them on
every engine that declares the contract. Each check raises AssertionError on failure.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable

import numpy as np
import psutil

from distlab import probes
from distlab.contracts import (
    BATCH,
    STREAMS,
    TASKS,
    BuiltinOp,
    RemoteTraceback,
    StreamResult,
    StreamSpec,
    WordCount,
)
from distlab.contracts.lifecycle import DATAFRAME
from distlab.contracts.streams import (
    FINAL,
    TOP_N,
    WINDOW_UPDATES,
    emission_problem,
    final_windows,
    golden_top_n,
    golden_windows,
    passing_ids,
)
from distlab.procs import listening_ports, tree

# multiprocessing's interpreter-wide helpers live until the interpreter exits: not leaks.
_MP_SINGLETONS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def raises(exc_type: type[BaseException], fn: Callable[[], object]) -> BaseException:
    """``fn()`` must raise ``exc_type``; return the exception."""
    try:
        fn()
    except exc_type as exc:
        return exc
    raise AssertionError(f"{exc_type.__name__} was not raised")


# -- leaks ---------------------------------------------------------------------------------
def _is_mp_singleton(p: psutil.Process) -> bool:
    try:
        return any(s in " ".join(p.cmdline()) for s in _MP_SINGLETONS)
    except psutil.Error:
        return False


def engine_processes(eng) -> set[int]:
    return {p.pid for p in tree([os.getpid(), *eng.process_roots()]) if p.pid != os.getpid()}


def assert_nothing_left(pids: set[int], ports: set[tuple[str, int]], timeout: float = 20) -> None:
    """Every process in ``pids`` gone and none of ``ports`` listening, within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in pids:
            try:
                p = psutil.Process(pid)
                if p.status() != psutil.STATUS_ZOMBIE and not _is_mp_singleton(p):
                    alive.append(f"{pid}:{p.name()}")
            except psutil.Error:
                pass
        still = {
            (c.laddr.ip, c.laddr.port)
            for c in psutil.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr and (c.laddr.ip, c.laddr.port) in ports
        }
        if not alive and not still:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"left running after close: processes {alive}, ports {sorted(still)}"
            )
        time.sleep(0.2)


# -- lifecycle -----------------------------------------------------------------------------
def smoke(engine) -> None:
    """The smallest piece of work in the engine's first declared shape."""
    if TASKS in engine.shapes:
        assert engine.map(probes.square, range(4)) == [0, 1, 4, 9]
    elif BATCH in engine.shapes:
        check_map_reduce_exact(engine, lines=50)
    elif STREAMS in engine.shapes:
        check_stream_exact(engine, n_events=200)
    elif DATAFRAME in engine.shapes:
        check_small_query(engine)


def check_small_query(engine) -> None:
    """A sum and a count over a Parquet file of 1,000 rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from distlab.contracts.dataframe import Query

    with tempfile.TemporaryDirectory(prefix="distlab-test-") as folder:
        path = os.path.join(folder, "t.parquet")
        pq.write_table(pa.table({"k": [i % 3 for i in range(1000)], "v": list(range(1000))}), path)
        query = Query("small", ("t",), "SELECT k, sum(v) AS v FROM t GROUP BY k",
                      frames={"pandas": lambda t: t["t"].groupby("k").agg(v=("v", "sum")).reset_index()},
                      summary=("v",))  # fmt: skip
        answer = engine.run_query(query, {"t": path})
    assert answer.columns == ("n_rows", "sum_v")
    assert [tuple(float(x) for x in row) for row in answer.rows] == [(3.0, 499500.0)]


def every_answer_checked(engine, workload) -> dict[str, str]:
    """query -> "ok" or the engine's reason it cannot express it; fails on a wrong answer."""
    outcome = {}
    for name, query in workload.queries.items():
        why = engine.unsupported(query)
        if why:
            assert isinstance(why, str) and why.strip(), f"{name}: an empty reason"
            outcome[name] = why
            continue
        output = workload.run(engine, name)
        ok, detail = workload.verify(output, name)
        assert ok, f"{engine.name} {workload.name} {name}: {detail}"
        assert output.metrics["rows_per_s"] and output.metrics["interface"] == engine.interface
        outcome[name] = "ok"
    return outcome


def check_tpch_answers(engine, workload=None) -> dict[str, str]:
    """TPC-H at SF 0.01 (size tiny), every answer checked."""
    from distlab.workloads import create

    outcome = every_answer_checked(engine, workload or create("tpch", "tiny"))
    # Q1 and Q6 (a scan, a filter, an aggregate) every dataframe engine can express
    assert outcome["q1"] == "ok" and outcome["q6"] == "ok", outcome
    return outcome


def check_groupby_answers(engine, workload=None) -> dict[str, str]:
    """db-benchmark's groupby questions (size tiny), every answer checked."""
    from distlab.workloads import create

    outcome = every_answer_checked(engine, workload or create("groupby", "tiny"))
    assert outcome["q1"] == "ok", outcome
    return outcome


def check_describe_and_declarations(engine) -> None:
    d = engine.describe()
    assert isinstance(d, dict) and "address" in d and "workers" in d
    assert engine.shapes and engine.shapes <= {TASKS, BATCH, STREAMS, DATAFRAME}
    for flag in ("supports_resources", "supports_actors", "supports_shared_objects"):
        assert isinstance(getattr(engine, flag), bool), flag
    assert engine.workers and engine.workers >= 1  # the base's default when not given
    assert engine.start() is engine  # start is idempotent


def check_close_leaves_nothing(make_engine: Callable[[], object]) -> None:
    eng = make_engine()
    before = engine_processes(eng)
    eng.start()
    try:
        smoke(eng)
        pids = engine_processes(eng) - before
        ports = listening_ports(pids | {os.getpid()})
    finally:
        eng.close()
        eng.close()  # idempotent
    assert not eng.started
    assert_nothing_left(pids, ports)


# -- tasks ---------------------------------------------------------------------------------
def check_submit_returns_future(engine) -> None:
    fut = engine.submit(probes.add, 2, y=3)
    assert fut.result(timeout=60) == 5
    assert fut.done()


def check_map_keeps_order(engine) -> None:
    items = list(range(25))
    assert engine.map(probes.square, items) == [x * x for x in items]
    items = list(range(103))
    assert engine.map(probes.square, items, chunksize=10) == [x * x for x in items]
    assert engine.map(probes.square, []) == []


def check_closure_runs(engine) -> None:
    offset = 7
    assert engine.map(lambda x: x + offset, [1, 2]) == [8, 9]


def check_exception_type_and_remote_traceback(engine) -> None:
    fut = engine.submit(probes.fail_with, "boom-42")
    exc = raises(probes.ProbeError, lambda: fut.result(timeout=60))
    text = str(exc) + str(exc.__cause__ or "")
    assert "boom-42" in text
    # where it failed on the worker must be visible to the caller
    assert "fail_with" in text or isinstance(exc.__cause__, RemoteTraceback)
    futs = [engine.submit(probes.square, 3), engine.submit(probes.fail_with, "second")]
    raises(probes.ProbeError, lambda: engine.gather(futs))


def check_user_exception_class(engine) -> None:
    """A class no worker can import (defined in this function, as a notebook or a script's
    ``__main__`` defines it: it travels by value) raised by a task that travelled by value
    reaches the caller as that very class, with the worker's traceback as its cause."""

    class UserError(ValueError):
        pass

    def fail_on(x: int, bad: int) -> int:
        if x == bad:
            raise UserError(f"user-error-{x}")
        return x

    fut = engine.submit(fail_on, 7, 7)
    exc = raises(UserError, lambda: fut.result(timeout=60))
    assert type(exc) is UserError, type(exc)  # the caller's own class, not a copy or a base
    assert str(exc) == "user-error-7"
    assert isinstance(exc.__cause__, RemoteTraceback), repr(exc.__cause__)
    assert "fail_on" in str(exc.__cause__) and "user-error-7" in str(exc.__cause__)
    assert engine.submit(fail_on, 1, 7).result(timeout=60) == 1
    # map's paths too, one task per item and chunks (engines may map natively)
    for chunksize in (None, 2):
        exc = raises(
            UserError,
            lambda c=chunksize: engine.map(lambda x: fail_on(x, 3), range(6), chunksize=c),
        )
        assert type(exc) is UserError and str(exc) == "user-error-3", (chunksize, exc)
        assert isinstance(exc.__cause__, RemoteTraceback), (chunksize, repr(exc.__cause__))


def check_share_round_trip(engine, elements: int) -> None:
    arr = np.arange(elements, dtype=np.float64)
    handle = engine.share(arr)
    sums = engine.gather([engine.submit(probes.array_sum, handle) for _ in range(3)])
    assert sums == [float(arr.sum())] * 3


class _Counter:
    def __init__(self, start: int):
        self.value = start

    def add(self, n: int) -> int:
        self.value += n
        return self.value


def check_actor_keeps_state_where_declared(engine) -> None:
    if not engine.supports_actors:  # the capability flag must tell the truth
        raises(NotImplementedError, lambda: engine.create_actor(_Counter, 10))
        return
    counter = engine.create_actor(_Counter, 10)
    assert [counter.call("add", 1).result(timeout=60) for _ in range(3)] == [11, 12, 13]


# -- batch ---------------------------------------------------------------------------------
_SEPARATORS = [" ", " ", "  ", "\t", "\xa0", "\u2003", "\x0b"]
_VOCABULARY = ["hadoop", "map", "reduce", "Word", "word", "café", "x1", "-", "ok."]


def _text_files(directory: str, files: int, lines: int) -> list[str]:
    """Seeded text with the whitespace Python's str.split() knows (tabs, NBSP, ...)."""
    import random

    rng = random.Random(11)
    paths = []
    for i in range(files):
        path = os.path.join(directory, f"part-{i}.txt")
        with open(path, "w", encoding="utf-8") as f:
            for _ in range(lines):
                words = rng.choices(_VOCABULARY, k=rng.randint(0, 12))
                f.write("".join(w + rng.choice(_SEPARATORS) for w in words) + "\n")
        paths.append(path)
    return paths


def _expected(paths: list[str]) -> Counter:
    counts: Counter = Counter()
    for p in paths:
        with open(p, encoding="utf-8") as f:
            counts.update(word for line in f for word in line.split())
    return counts


def word_pairs(line: str):
    return [(word, 1) for word in line.split()]


def add(a: int, b: int) -> int:
    return a + b


def check_map_reduce_exact(engine, lines: int = 400) -> None:
    with tempfile.TemporaryDirectory(prefix="distlab-conformance-") as tmp:
        paths = _text_files(tmp, files=3, lines=lines)
        got = engine.map_reduce(paths, word_pairs, add)
        assert dict(got) == dict(_expected(paths))
    assert isinstance(engine.map_reduce_native, bool)


def check_builtin_ops(engine) -> None:
    """Declared built-in operators are typed and exact; undeclared ones are refused."""
    assert all(issubclass(op, BuiltinOp) for op in engine.builtin_ops)
    with tempfile.TemporaryDirectory(prefix="distlab-conformance-") as tmp:
        paths = _text_files(tmp, files=2, lines=300)
        if WordCount in engine.builtin_ops:
            assert dict(engine.run_builtin(WordCount(tuple(paths)))) == dict(_expected(paths))
        else:
            raises(NotImplementedError, lambda: engine.run_builtin(WordCount(tuple(paths))))


# -- streams -------------------------------------------------------------------------------
def check_stream_exact(engine, n_events: int = 1500, rate: float = 1000.0) -> StreamResult:
    spec = StreamSpec(n_events=n_events, rate=rate, window_ms=250, keys=4, timeout_s=90)
    out = engine.run_stream(spec)
    assert isinstance(out, StreamResult), type(out)
    events = spec.events()
    want = golden_windows(events, spec.window_ms, spec.filter_min)
    # every emission as received: exactly once per window, or (declared update mode)
    # running totals whose last one is final
    assert out.window_updates in WINDOW_UPDATES, out.window_updates
    problem = emission_problem(out.windows, out.window_updates)
    assert problem is None, problem
    final = final_windows(out.windows)
    assert final == want, f"{len(set(want) ^ set(final))} windows differ of {len(want)}"
    expected = set(passing_ids(events, spec.filter_min))
    assert set(out.arrivals) == expected, "pass-through events missing or unexpected"
    assert isinstance(out.duplicate_arrivals, int) and out.duplicate_arrivals >= 0
    assert all(t >= 0 for t in out.arrivals.values())
    assert out.elapsed_s > 0 and out.send_lag_s >= 0
    assert out.notes and isinstance(out.settings, dict)
    return out


def check_stream_top_n_exact(engine, n_events: int = 1500, rate: float = 1000.0) -> None:
    """The second query: each sliding window's top keys, each row once, ranks exact."""
    spec = StreamSpec(
        n_events=n_events, rate=rate, window_ms=250, keys=6, top_n=2, query=TOP_N, timeout_s=90
    )
    out = engine.run_stream(spec)
    want = golden_top_n(spec.events(), spec.window_ms, spec.filter_min, spec.top_n)
    assert emission_problem(out.windows, FINAL) is None  # each row once, when it closes
    got = {(k, w): (rank, total) for k, w, rank, total in out.windows}
    assert got == want, f"{len(set(want) ^ set(got))} top-N rows differ of {len(want)}"
    assert set(out.arrivals) == set(passing_ids(spec.events(), spec.filter_min))
