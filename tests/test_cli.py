"""The command line as a user meets it: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import json
import time

import pytest

from commands import distlab
from distlab.procs import free_port


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--engines", "nosuch"], "unknown engine 'nosuch'"),
        (["run", "--engines", "local", "--workloads", "nosuch"], "unknown workload 'nosuch'"),
        (["run", "--engines", "local", "--size", "enormous"], "unknown size 'enormous'"),
        (["run", "--engines", "local", "--address", "local"], "expects ENGINE=VALUE"),
        (["run", "--engines", "local", "--repeats", "0"], "--repeats must be >= 1"),
        (["run", "--engines", "local", "--cell-timeout", "-5"], "--cell-timeout must be"),
        (
            ["run", "--engines", "local", "--workloads", "gpu_queue", "--gpus", "-1"],
            "--gpus must be a whole number",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle):
    t0 = time.monotonic()
    res = distlab(*args)
    assert time.monotonic() - t0 < 10
    assert res.returncode == 2, res.stderr
    assert needle in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("engine", ["ray", "dask"])
def test_unreachable_address_fails_fast(engine):
    port = free_port()
    t0 = time.monotonic()
    res = distlab(
        "run",
        "--engines",
        engine,
        "--workloads",
        "squares",
        "--size",
        "tiny",
        "--address",
        f"{engine}=127.0.0.1:{port}",
    )
    assert time.monotonic() - t0 < 10
    assert res.returncode == 2
    assert f"cannot reach {engine} at 127.0.0.1:{port}" in res.stderr
    assert "Traceback" not in res.stderr


def test_run_local_tiny_verifies_and_writes_results(tmp_path):
    res = distlab(
        "run",
        "--engines",
        "local",
        "--workloads",
        "squares,numbers",
        "--size",
        "tiny",
        "--repeats",
        "2",
        "--out",
        str(tmp_path),
    )
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["schema"] == "distlab.results" and doc["version"] == 2
    assert doc["memory_measure"] == "pss"
    assert doc["environment"]["python"].startswith("3.")
    cells = {(c["workload"], c["variant"]): c for c in doc["cells"]}
    assert set(cells) == {
        ("squares", "default"),
        ("numbers", "batched"),
        ("numbers", "per_element"),
    }
    for c in cells.values():
        for key in (
            "engine",
            "workload",
            "variant",
            "status",
            "verified",
            "wall_s",
            "speedup",
            "peak_mem_mb",
        ):
            assert key in c
        assert c["status"] == "ok" and c["verified"] is True
        assert c["wall"]["n"] >= 2 and c["wall"]["min"] <= c["wall_s"] <= c["wall"]["max"]
        assert c["peak_mem_mb"] > 0
    # ten 50 ms sleeps on two workers: parallel, so clearly faster than the sequential loop
    assert cells[("squares", "default")]["speedup"] > 1.3
    assert cells[("numbers", "per_element")]["metrics"]["capped"] is True
    assert doc["engines"]["local"]["startup_s"] > 0


def test_engines_lists_every_engine():
    res = distlab("engines")
    assert res.returncode == 0
    for name in ("local", "ray", "dask", "celery", "kafka", "scoop", "spark", "flink", "mapreduce"):
        assert name in res.stdout


def test_kill_worker_reports_lost_and_duplicates(tmp_path):
    """A worker killed mid-run: the process pool loses its in-flight tasks (and says so);
    Kafka's consumer group delivers them again, so nothing is lost."""
    res = distlab(
        "run",
        "--engines",
        "local,kafka",
        "--workloads",
        "jobs",
        "--size",
        "tiny",
        "--repeats",
        "1",
        "--kill-worker",
        "--no-report",
        "--out",
        str(tmp_path),
        timeout=300,
    )
    doc = json.loads((tmp_path / "results.json").read_text())
    cells = {(c["engine"], c["variant"]): c for c in doc["cells"]}
    for c in cells.values():
        assert c["fault"].get("killed_pid"), c
        assert c["lost"] is not None and c["duplicates"] is not None
    assert cells[("kafka", "batch")]["verified"] and cells[("kafka", "batch")]["lost"] == 0
    local = cells[("local", "batch")]
    assert local["lost"] > 0 and local["status"] == "failed"
    assert res.returncode == 1  # a failed cell is a non-zero exit, not a crash


def test_workload_parameters_from_the_command_line(tmp_path):
    res = distlab(
        "run",
        "--engines",
        "local",
        "--workloads",
        "squares",
        "--size",
        "tiny",
        "--param",
        "squares.n=4",
        "--repeats",
        "1",
        "--no-report",
        "--out",
        str(tmp_path),
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["cells"][0]["n_tasks"] == 4
    bad = distlab(
        "run", "--engines", "local", "--workloads", "squares", "--param", "squares.nope=1"
    )
    assert bad.returncode == 2 and "squares has no parameter 'nope'" in bad.stderr
