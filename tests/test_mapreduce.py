"""Hadoop-style MapReduce through mrjob's local runner: real task subprocesses, no mocks."""

from __future__ import annotations

import os
import random
import threading
from collections import Counter

import psutil
import pytest

pytest.importorskip("mrjob")

import distlab  # noqa: E402
from conformance import assert_nothing_left  # noqa: E402
from conformance.batch import BatchConformance  # noqa: E402
from conformance.lifecycle import LifecycleConformance  # noqa: E402
from distlab import probes  # noqa: E402
from distlab.contracts import BATCH, DistlabError, EngineStartError  # noqa: E402
from distlab.procs import tree  # noqa: E402


def write_text(path, lines: int, seed: int) -> None:
    """Seeded text with the whitespace Python's str.split() knows (tabs, NBSP, ...)."""
    rng = random.Random(seed)
    vocabulary = ["hadoop", "map", "reduce", "Word", "word", "café", "x1", "-", "ok."]
    separators = [" ", " ", "  ", "\t", "\xa0", "\u2003", "\x0b"]
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(lines):
            words = rng.choices(vocabulary, k=rng.randint(0, 12))
            f.write("".join(w + rng.choice(separators) for w in words) + "\n")


def expected_counts(path) -> Counter:
    with open(path, encoding="utf-8") as f:
        return Counter(word for line in f for word in line.split())


def word_mapper(line: str):
    return [(word, 1) for word in line.split()]


def add(a: int, b: int) -> int:
    return a + b


def failing_mapper(line: str):
    raise probes.ProbeError("mapper-broke-here")


class ChildWatcher:
    """Records every descendant of this process while a job runs."""

    def __init__(self) -> None:
        self.pids: set[int] = set()
        self.cmdlines: list[str] = []
        self.ports: set[tuple[str, int]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            children = [p for p in tree([os.getpid()]) if p.pid != os.getpid()]
            for p in children:
                if p.pid not in self.pids:
                    self.pids.add(p.pid)
                    try:
                        self.cmdlines.append(" ".join(p.cmdline()))
                    except Exception:  # exited between listing and reading
                        pass
            for p in children:  # per process: a system-wide scan would slow the job
                try:
                    self.ports |= {
                        (c.laddr.ip, c.laddr.port)
                        for c in p.net_connections(kind="inet")
                        if c.status == psutil.CONN_LISTEN
                    }
                except psutil.Error:
                    pass

    def __enter__(self) -> ChildWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def test_word_count_is_exact_and_leaves_nothing(tmp_path):
    paths = [tmp_path / "a.txt", tmp_path / "b.txt"]
    write_text(paths[0], lines=2000, seed=3)
    write_text(paths[1], lines=500, seed=4)
    expected = expected_counts(paths[0]) + expected_counts(paths[1])
    eng = distlab.engine("mapreduce", workers=2)
    with ChildWatcher() as watcher:
        eng.start()
        try:
            scratch = eng._tmp_root
            got = eng.map_reduce([str(p) for p in paths], word_mapper, add)
        finally:
            eng.close()
            eng.close()  # idempotent
    assert got == dict(expected)
    # the job really ran as Hadoop-Streaming-style task processes (mrjob copies the job
    # script, distlab/engines/mapreduce/job.py, into each task's working directory)
    assert any("job.py --step-num=0 --mapper" in c for c in watcher.cmdlines)
    assert any("job.py --step-num=0 --reducer" in c for c in watcher.cmdlines)
    assert_nothing_left(watcher.pids, watcher.ports)
    assert scratch and not os.path.exists(scratch)


def test_failing_mapper_is_one_line_error_and_stops_tasks(tmp_path):
    path = tmp_path / "in.txt"
    write_text(path, lines=50, seed=5)
    with ChildWatcher() as watcher, distlab.engine("mapreduce", workers=2) as eng:
        with pytest.raises(DistlabError, match="ProbeError: mapper-broke-here") as info:
            eng.map_reduce([str(path)], failing_mapper, add)
    assert "\n" not in str(info.value)
    assert_nothing_left(watcher.pids, watcher.ports)


def test_tasks_are_refused_batch_only():
    with distlab.engine("mapreduce", workers=1) as eng:
        assert eng.shapes == frozenset({BATCH})
        # a batch engine offers no tasks API at all (the tasks contract is not its own)
        with pytest.raises(AttributeError):
            eng.submit(probes.square, 3)
        assert eng.describe()["runner"] == "local"


def test_hadoop_runner_without_hadoop_fails_in_one_line(monkeypatch, tmp_path):
    for var in ("HADOOP_PREFIX", "HADOOP_HOME", "HADOOP_INSTALL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no `hadoop` on it
    with pytest.raises(EngineStartError, match="needs a Hadoop cluster") as info:
        distlab.engine("mapreduce", address="hadoop").start()
    assert "\n" not in str(info.value)


def test_unknown_runner_is_refused():
    with pytest.raises(EngineStartError, match="mrjob runner"):
        distlab.engine("mapreduce", address="spark://127.0.0.1:7077").start()


class TestMapReduceConformance(LifecycleConformance, BatchConformance):
    engine_name = "mapreduce"
    unreachable_address = None  # an mrjob runner name, not a host (see the tests above)
