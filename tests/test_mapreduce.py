"""Hadoop MapReduce: real YARN applications over a real HDFS (a Hadoop mini cluster on
127.0.0.1, jobs through Hadoop Streaming), no mocks."""

from __future__ import annotations

import random
import re
import subprocess
import threading
import time
from collections import Counter

import pytest

import distlab
from conformance.batch import BatchConformance
from conformance.lifecycle import LifecycleConformance
from distlab import probes
from distlab.contracts import BATCH, DistlabError, EngineStartError
from distlab.procs import free_port, tree
from distlab.services.hadoop import HadoopCluster
from distlab.services.hadoop_client import hadoop_java, write_client_conf
from present import require_hadoop

APPLICATION_CLI = "org.apache.hadoop.yarn.client.cli.ApplicationCLI"


@pytest.fixture(scope="module", autouse=True)
def java_and_jars():
    require_hadoop()


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


class TreeWatcher:
    """Records the command lines of every process under these roots while a job runs."""

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots
        self.cmdlines: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            for p in tree(self.roots):
                if p.pid not in self.cmdlines:
                    try:
                        self.cmdlines[p.pid] = " ".join(p.cmdline())
                    except Exception:  # exited between listing and reading
                        pass

    def seen(self, text: str) -> bool:
        return any(text in c for c in self.cmdlines.values())

    def __enter__(self) -> TreeWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def yarn_status(conf_dir, application_id: str) -> str:
    """`yarn application -status ID`: what the ResourceManager recorded."""
    done = subprocess.run(
        hadoop_java(conf_dir, APPLICATION_CLI, ["application", "-status", application_id]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-500:]
    return done.stdout


def hdfs_exists(conf_dir, path: str) -> bool:
    done = subprocess.run(
        hadoop_java(conf_dir, "org.apache.hadoop.fs.FsShell", ["-test", "-e", path]),
        capture_output=True,
        timeout=120,
    )
    return done.returncode == 0


class TestMapReduceConformance(LifecycleConformance, BatchConformance):
    engine_name = "mapreduce"
    unreachable_address = "hdfs://127.0.0.1:{port},127.0.0.1:{port}"

    def test_word_count_is_a_yarn_application_over_hdfs(self, engine, tmp_path):
        (tmp_path / "other").mkdir()
        # two files share a name: both are counted
        paths = [tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "other" / "a.txt"]
        for seed, (path, lines) in enumerate(zip(paths, (2000, 500, 300), strict=True)):
            write_text(path, lines=lines, seed=seed)
        expected = sum((expected_counts(p) for p in paths), Counter())
        with TreeWatcher(engine.process_roots()) as watcher:
            got = engine.map_reduce([str(p) for p in paths], word_mapper, add)
        assert got == dict(expected)
        job = engine.job_info()
        # a YARN application: the ResourceManager recorded it, finished and succeeded
        assert re.fullmatch(r"application_\d+_\d+", job["application_id"])
        status = yarn_status(engine.conf_dir, job["application_id"])
        assert re.search(r"Application-Type : MAPREDUCE", status)
        assert re.search(r"Final-State : SUCCEEDED", status)
        # one map task per file, `workers` reduce tasks, the input and output on HDFS
        assert job["map_tasks"] == len(paths)
        assert job["reduce_tasks"] == engine.workers
        assert job["hdfs_bytes_read"] >= sum(p.stat().st_size for p in paths)
        assert job["hdfs_input"].startswith("/tmp/distlab/")
        assert job["hdfs_output"].startswith("/tmp/distlab/")
        for step in ("put_s", "submit_s", "am_start_s", "map_phase_s", "reduce_phase_s"):
            assert job[step] >= 0, step
        # the tasks ran in YARN containers under the cluster: the MapReduce application
        # master, task JVMs, and our task script under this Python (Hadoop Streaming)
        assert watcher.seen("org.apache.hadoop.mapreduce.v2.app.MRAppMaster")
        assert watcher.seen("org.apache.hadoop.mapred.YarnChild")
        assert watcher.seen("task.py map functions.pkl")
        assert watcher.seen("task.py reduce functions.pkl")
        # the job's HDFS directories are removed afterwards (in the background)
        deadline = time.monotonic() + 60
        while hdfs_exists(engine.conf_dir, job["hdfs_output"]):
            assert time.monotonic() < deadline, "the job's HDFS output was not removed"
            time.sleep(1)

    def test_failing_mapper_is_one_line_error_and_no_task_left(self, engine, tmp_path):
        path = tmp_path / "in.txt"
        write_text(path, lines=50, seed=5)
        with pytest.raises(DistlabError, match="ProbeError: mapper-broke-here") as info:
            engine.map_reduce([str(path)], failing_mapper, add)
        message = str(info.value)
        assert "\n" not in message
        assert engine.last_job["application_id"] in message
        assert "FAILED" in yarn_status(engine.conf_dir, engine.last_job["application_id"])
        deadline = time.monotonic() + 30  # the containers of the failed job go
        while engine.worker_pids():
            assert time.monotonic() < deadline, "task containers left running"
            time.sleep(0.5)
        assert engine.health() is None  # the engine goes on (the next tests use it)

    def test_batch_only_and_describes_its_cluster(self, engine):
        assert engine.shapes == frozenset({BATCH})
        # a batch engine offers no tasks API at all (the tasks contract is not its own)
        with pytest.raises(AttributeError):
            engine.submit(probes.square, 3)
        d = engine.describe()
        assert d["version"].startswith("3.") and d["hadoop_version"] == d["version"]
        assert d["nodemanager_mb"] == 512 + engine.workers * 512
        assert d["startup_s"] > 0
        assert engine.process_roots() == [engine.cluster.pid]
        assert engine.health() is None
        assert d["server"] == engine.server_version() == f"Apache Hadoop {d['version']}"
        assert engine.map_reduce([], word_mapper, add) == {}


def test_address_runs_jobs_on_a_running_cluster(tmp_path):
    """--address mapreduce=CONF_DIR: jobs go to that cluster; close() leaves it running
    and removes what the engine put on its HDFS."""
    path = tmp_path / "in.txt"
    write_text(path, lines=300, seed=9)
    with HadoopCluster() as cluster:
        nn, rm = cluster.ports["namenode"], cluster.ports["resourcemanager"]
        # the other form names the same cluster's NameNode and ResourceManager
        distlab.engine("mapreduce").check_address(f"hdfs://127.0.0.1:{nn},127.0.0.1:{rm}")
        eng = distlab.engine("mapreduce", address=str(cluster.conf_dir), workers=1)
        with eng:
            assert eng.cluster is None and eng.process_roots() == []
            assert eng.map_reduce([str(path)], word_mapper, add) == dict(expected_counts(path))
            root = eng.hdfs_root
            assert eng.last_job["reduce_tasks"] == 1
            assert eng.describe()["start_method"] == "the user's Hadoop cluster"
        assert cluster.alive()
        assert not hdfs_exists(cluster.conf_dir, root)


def test_unreachable_or_malformed_addresses_fail_in_one_line(tmp_path):
    port = free_port()
    conf = tmp_path / "conf"
    write_client_conf(conf, {"fs.defaultFS": f"hdfs://127.0.0.1:{port}"})
    cases = [
        (str(conf), f"cannot reach mapreduce at .*127.0.0.1:{port}, its NameNode"),
        (f"127.0.0.1:{port}", "expected a Hadoop configuration directory"),
        (f"hdfs://127.0.0.1:{port},127.0.0.1:x", "expected"),
    ]
    local = tmp_path / "local"
    write_client_conf(local, {"fs.defaultFS": "file:///"})
    cases.append((str(local), "fs.defaultFS is not HDFS"))
    for address, pattern in cases:
        eng = distlab.engine("mapreduce", address=address)
        started = time.monotonic()
        with pytest.raises(EngineStartError, match=pattern) as info:
            eng.start()
        assert "\n" not in str(info.value)
        assert time.monotonic() - started < 10
        assert not eng.started and eng.conf_dir is None
