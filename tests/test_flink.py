"""Flink engine tests on a real embedded mini-cluster, run in Flink's own environment.

apache-flink lives in a separate virtualenv (distlab.engines.flink.env), so the Flink work runs in
a subprocess with FlinkEngine.interpreter(); this module (in the main environment) checks
its answers against collections.Counter and checks that nothing is left running.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from distlab.contracts import BATCH, STREAMS, DistlabError, EngineStartError, WordCount
from distlab.contracts.lifecycle import DATAFRAME
from distlab.engines.flink import env as flink_env
from distlab.engines.flink.engine import FlinkEngine
from distlab.procs import free_port
from present import missing

# Runs inside Flink's environment: one mini-cluster for the built-in (SQL) word count
# and the Python map_reduce word count, then close() and a leak check, all reported as
# one JSON line.
SCENARIO = r"""
import json, os, sys, time
import psutil
import distlab
from distlab.contracts import WordCount
from distlab.procs import listening_ports, tree
from pyflink.java_gateway import get_gateway

def running(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False

def words(line):
    for word in line.split():
        yield word, 1

def main():
    path = sys.argv[1]
    out = {}
    engine = distlab.engine("flink", workers=2)
    began = time.perf_counter()
    engine.start()
    out["start_s"] = time.perf_counter() - began
    try:
        began = time.perf_counter()
        out["builtin"] = engine.run_builtin(WordCount(paths=(path,)))
        out["builtin_s"] = time.perf_counter() - began
        # another py4j connection (another JVM thread) on top of PyFlink's pool, as a
        # freed Java object can leave it: the planner must still run where it was built
        pool = get_gateway()._gateway_client
        pool.deque.append(pool._create_connection())
        began = time.perf_counter()
        out["python"] = engine.map_reduce([path], words, lambda a, b: a + b)
        out["python_s"] = time.perf_counter() - began
        pool.deque.append(pool._create_connection())
        try:  # the same without distlab's care: the reason for it
            engine._t_env.execute_sql("SELECT 1 + 1").wait()
            out["planned_elsewhere"] = "ok"
        except Exception as exc:
            out["planned_elsewhere"] = str(exc)[:400]
        pids = {p.pid for p in tree(engine.process_roots())}
        out["engine_pids"] = sorted(pids)
        ports = listening_ports(pids | {os.getpid()})
        out["ports"] = sorted(ports)
    finally:
        engine.close()
        engine.close()  # idempotent
    deadline = time.monotonic() + 20
    while True:
        alive = [p for p in pids if running(p)]
        still = [c.laddr[:2] for c in psutil.net_connections("inet")
                 if c.status == psutil.CONN_LISTEN and c.laddr and tuple(c.laddr[:2]) in ports]
        if (not alive and not still) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    out["left_pids"], out["left_ports"] = alive, still
    print(json.dumps(out))

if __name__ == "__main__":
    main()
"""

UNREACHABLE = r"""
import json, sys, time
import distlab
from distlab.contracts import EngineStartError
began = time.perf_counter()
try:
    distlab.engine("flink", address=sys.argv[1]).start()
    outcome = "started"
except EngineStartError as exc:
    outcome = "EngineStartError: " + str(exc)
print(json.dumps({"outcome": outcome, "seconds": time.perf_counter() - began}))
"""


@pytest.fixture(scope="module")
def flink_python() -> str:
    reason = flink_env.unavailable_reason()
    if reason:
        missing(f"Flink environment unavailable: {reason}")
    try:
        return FlinkEngine.interpreter()
    except DistlabError as exc:
        missing(f"Flink environment could not be created: {exc}")


def run_in_flink(python: str, script: str, *args: str, timeout: float = 240) -> dict:
    done = subprocess.run(
        [python, "-c", script, *args], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_text(path, lines: int = 3000, seed: int = 7) -> None:
    """Seeded text with the whitespace str.split() knows and Java's \\s does not."""
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(400)] + ["Über", "naïve", "x-y", "a.b", "'q'"]
    separators = [" ", " ", " ", "  ", "\t", "\xa0", "\u2003", "\x1c", " \x0b "]
    with open(path, "w", encoding="utf-8", newline="") as f:
        for i in range(lines):
            n = rng.randint(0, 12)
            parts = [rng.choice(vocabulary) for _ in range(n)]
            line = "".join(w + rng.choice(separators) for w in parts)
            f.write(("\t" if i % 11 == 0 else "") + line + ("\r\n" if i % 13 == 0 else "\n"))


def reference_counts(path) -> Counter:
    with open(path, encoding="utf-8") as f:
        return Counter(word for line in f for word in line.split())


@pytest.fixture(scope="module")
def scenario(flink_python, tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("flink") / "words.txt"
    write_text(path)
    out = run_in_flink(flink_python, SCENARIO, str(path))
    out["expected"] = reference_counts(path)
    return out


# -- in the main environment: no pyflink needed -------------------------------------------
def test_module_does_not_import_pyflink():
    code = (
        "import sys, distlab.registry as r; c = r.engine_class('flink'); "
        "print(c.name, 'pyflink' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["flink", "False"], done.stderr


def test_capabilities_and_tasks_refused():
    assert FlinkEngine.shapes == frozenset({BATCH, STREAMS, DATAFRAME})
    assert FlinkEngine.interface == "SQL (batch mode)"
    assert FlinkEngine.builtin_ops == frozenset({WordCount})
    # dataflow jobs, not futures: a batch/streams engine offers no tasks API at all
    with pytest.raises(AttributeError):
        FlinkEngine(workers=1).submit(len, "abc")


# -- in Flink's environment ----------------------------------------------------------------
def test_interpreter_is_flinks_own(flink_python):
    code = "import pyflink, distlab.engines.flink.engine, numpy; print(numpy.__version__)"
    done = subprocess.run([flink_python, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    major, minor = map(int, done.stdout.split(".")[:2])
    assert (major, minor) < (2, 2)  # apache-beam's pin: why Flink has its own environment


def test_builtin_sql_wordcount_matches_counter(scenario):
    assert scenario["builtin"] == dict(scenario["expected"])


def test_python_map_reduce_matches_counter(scenario):
    assert scenario["python"] == dict(scenario["expected"])


def test_planning_stays_on_the_thread_that_built_the_environment(scenario):
    """The map-reduce above ran with another py4j connection on top of the pool; a
    statement sent over such a connection directly fails in Flink's planner (FLINK-23020),
    so the right answer there means distlab kept the planning on the builder's thread."""
    assert "metadataHandlerProvider" in scenario["planned_elsewhere"], scenario["planned_elsewhere"]


def test_close_leaves_nothing_running(scenario):
    assert scenario["engine_pids"], "the gateway JVM should have been seen running"
    assert scenario["left_pids"] == [] and scenario["left_ports"] == []
    # and from outside, after Flink's process has exited: no orphaned JVM
    assert not [p for p in scenario["engine_pids"] if psutil.pid_exists(p)]


def test_unreachable_address_fails_fast(flink_python):
    address = f"127.0.0.1:{free_port()}"
    out = run_in_flink(flink_python, UNREACHABLE, address, timeout=60)
    assert out["outcome"].startswith(f"EngineStartError: cannot reach flink at {address}"), out
    assert "no Flink JobManager" in out["outcome"], out
    assert out["seconds"] < 10


def test_unreachable_address_fails_fast_in_main_environment():
    address = f"127.0.0.1:{free_port()}"
    began = time.perf_counter()
    with pytest.raises(EngineStartError, match=f"cannot reach flink at {address}"):
        FlinkEngine.check_address(address)  # what the runner calls before a run
    with pytest.raises(EngineStartError):
        FlinkEngine(address=address).start()
    assert time.perf_counter() - began < 10


class TestFlinkConformance:
    """The conformance checks of every contract Flink declares (lifecycle, batch, streams,
    dataframe), run by ``conformance.remote`` inside Flink's own environment (it has no
    pytest)."""

    CHECKS = (
        "describe_and_declarations",
        "map_reduce_exact",
        "builtin_ops_typed_and_exact",
        "stream_windows_exact_and_every_event_arrives",
        "small_query",
        "tpch_answers_verified",
        "groupby_answers_verified",
        "close_leaves_nothing_running",
    )

    @pytest.fixture(scope="class")
    @classmethod
    def outcomes(cls, flink_python) -> dict:
        tests_dir = str(Path(__file__).resolve().parent)
        done = subprocess.run(
            [flink_python, "-m", "conformance.remote", "flink", *cls.CHECKS],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tests_dir,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    @pytest.mark.parametrize("check", CHECKS)
    def test_conformance(self, outcomes, check):
        assert outcomes.get(check) == "ok", outcomes.get(check, "not run")


def test_what_flink_sql_lacks_is_unsupported_with_its_reason():
    """Groupby's q6 calls median() and q9 corr(), which Flink SQL has not; the others run
    (their answers: TestFlinkConformance)."""
    from distlab.workloads.groupby import groupby_queries

    engine = FlinkEngine(workers=1)
    reasons = {name: engine.unsupported(q) for name, q in groupby_queries().items()}
    assert "median()" in reasons.pop("q6") and "corr()" in reasons.pop("q9")
    assert set(reasons.values()) == {None}


def test_building_the_environment_has_a_timeout(tmp_path, monkeypatch):
    """Another build holds the environment's lock past DISTLAB_FLINK_BUILD_TIMEOUT: the
    build stops and says so in one line; `distlab run` records Flink failed, its cells
    failed, and exits 1 (it never waits forever)."""
    import fcntl
    import os

    venv = tmp_path / "flink-venv"
    settings = {flink_env.ENV_VAR: str(venv), flink_env.BUILD_TIMEOUT_VAR: "2"}
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    reason = flink_env.unavailable_reason()
    if reason:
        missing(f"Flink environment unavailable: {reason}")
    with venv.with_name(venv.name + ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # "another build", in this test's process
        began = time.monotonic()
        with pytest.raises(DistlabError) as info:
            flink_env.ensure()
        assert 2 <= time.monotonic() - began < 10
        message = str(info.value)
        assert "took longer than 2 s (waiting for another build)" in message
        assert "\n" not in message
        done = subprocess.run(
            [sys.executable, "-m", "distlab.cli", "run", "--engines", "flink"]
            + ["--workloads", "wordcount", "--size", "tiny", "--repeats", "1"]
            + ["--no-report", "--out", str(tmp_path / "out")],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **settings},
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert "took longer than 2 s" in doc["engines"]["flink"]["error"]
    cells = [c for c in doc["cells"] if c["engine"] == "flink"]
    assert [(c["workload"], c["status"]) for c in cells] == [("wordcount", "failed")]
    assert not venv.exists()  # nothing half-built was left
