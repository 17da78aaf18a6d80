"""`distlab doctor` and what an install lacks, as a user meets them: real subprocesses, a
PATH without Java (a machine where it is missing), exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from commands import DISTLAB, distlab
from present import engines_required


def _without_java(tmp_path) -> dict[str, str]:
    """The environment of a machine without Java: an empty PATH, no JAVA_HOME."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    return {**env, "PATH": str(empty), "COLUMNS": "200"}


def test_doctor_in_the_full_environment_finds_everything_fast():
    t0 = time.monotonic()
    res = distlab("doctor", timeout=60)
    took = time.monotonic() - t0
    if res.returncode == 1 and not engines_required():
        pytest.skip("a partial install: doctor reports what it lacks (run scripts/test.sh)")
    assert res.returncode == 0, res.stdout + res.stderr
    assert took < 5, f"doctor took {took:.1f} s"
    for engine in ("ray", "dask", "celery", "kafka", "scoop", "spark", "flink", "mapreduce"):
        assert f"│ {engine} " in res.stdout, engine
    body = res.stdout.split("--hosts")[0]  # the test hosts are not asked for here
    assert "missing" not in body, res.stdout
    assert "ok (every engine and workload): everything needed is here" in res.stdout


def test_doctor_says_java_is_missing_and_how_to_install_it(tmp_path):
    res = subprocess.run(
        [*DISTLAB, "doctor", "--engines", "spark,local"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_without_java(tmp_path),
    )
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    java_row = next(line for line in res.stdout.splitlines() if "│ java " in line)
    assert "missing" in java_row and "apt-get install openjdk-17-jre-headless" in java_row
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith("missing for engines spark, local: java"), last


def test_doctor_refuses_an_unknown_engine_in_one_line():
    res = distlab("doctor", "--engines", "dask,nope", timeout=60)
    assert res.returncode == 2
    assert res.stderr.strip() == (
        "error: unknown engine 'nope'; choose from: "
        "local, ray, dask, celery, dramatiq, rq, huey, taskiq, arq, kafka, scoop, spark, flink, "
        "mapreduce, pandas, polars, duckdb, daft, bytewax, quixstreams"
    )


def test_a_run_without_java_fails_the_jvm_engine_in_one_line(tmp_path):
    out = tmp_path / "out"
    res = subprocess.run(
        [*DISTLAB, "run", "--engines", "kafka", "--workloads", "squares", "--size", "tiny",
         "--out", str(out)],
        capture_output=True, text=True, timeout=120, env=_without_java(tmp_path),
    )  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    (cell,) = json.loads((out / "results.json").read_text())["cells"]
    assert cell["status"] == "failed"
    assert cell["error"] == (
        "no Java runtime (java) found: apt-get install openjdk-17-jre-headless (or set JAVA_HOME)"
    )


NEEDY = '''
from distlab.workloads import RunOutput, Workload


class Needy(Workload):
    name = "needy"
    sizes = {"tiny": {}, "default": {}, "seed": {}}
    requires = ("distlab_no_such_library",)
    requires_extra = "needy"

    def reference(self):
        return [1]

    def run(self, engine, variant):
        return RunOutput(engine.map(abs, [1]), n_tasks=1)
'''


def test_a_workload_whose_library_is_missing_is_unsupported_with_the_command(tmp_path):
    (tmp_path / "needy.py").write_text(NEEDY)
    out = tmp_path / "out"
    res = subprocess.run(
        [*DISTLAB, "run", "--engines", "local", "--workloads", "needy:Needy,squares",
         "--size", "tiny", "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    cells = json.loads((out / "results.json").read_text())["cells"]
    by_workload = {c["workload"]: c for c in cells}
    assert by_workload["squares"]["status"] == "ok"
    needy = by_workload["needy:Needy"]
    assert needy["status"] == "unsupported"
    assert needy["reason"] == (
        "needs the Python module distlab_no_such_library: pip install 'distlab[needy]'"
    )
