"""The command line as a user meets it: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from commands import DISTLAB, distlab
from distlab import results
from distlab.procs import free_port

#: a path no one can create: /sys refuses new entries, also to root
UNWRITABLE = "/sys/distlab-test-out"


def _one_line_exit_2(res, needle: str) -> None:
    assert res.returncode == 2, res.stdout + res.stderr
    assert needle in res.stderr, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_bad_paths_are_one_line_and_exit_2(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    good = results.save(results.new(["distlab"], {}), tmp_path / "good" / "results.json")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"schema": "distlab.results", "version": 2, "cells": "x"}))
    run = ["run", "--engines", "local", "--workloads", "squares", "--size", "tiny"]
    cases = [
        ([*run, "--out", str(a_file)], f"--out {a_file} is a file, not a directory"),
        ([*run, "--out", UNWRITABLE], f"--out {UNWRITABLE} cannot be written"),
        # a results file that cannot be read (an I/O error), or read but not understood
        (["report", "/proc/self/mem"], "cannot read the results file /proc/self/mem"),
        (["report", str(broken)], "not a readable distlab results file: Expected `array`, got `str` - at `$.cells`"),
        (["compare", str(good), "/proc/self/mem"], "cannot read the results file"),
        (["report", str(good), "--out", UNWRITABLE], f"--out {UNWRITABLE} cannot be written"),
        (["compare", str(good), str(good), "--html", f"{UNWRITABLE}/c.html"], "cannot be written"),
    ]
    for args, needle in cases:
        t0 = time.monotonic()
        _one_line_exit_2(distlab(*args), needle)
        assert time.monotonic() - t0 < 10  # refused before anything started
    assert a_file.read_text() == "not a directory"


def test_stream_parameters_it_reads_are_accepted():
    from distlab.run import matrix, validate

    params = {
        "stream": {
            "partitions": 2,
            "bootstrap": "127.0.0.1:9092",
            "timeout_s": 30,
            "filter_min": 500,
            "seed": 3,
            "sweep_start_rate": 100,
            "top_n": 5,
        }
    }
    validate.validate(matrix.RunSpec(engines=["kafka"], workloads=["stream"], params=params))
    from distlab.workloads import create

    spec = create("stream", "tiny", **params["stream"]).spec()
    assert (spec.partitions, spec.bootstrap, spec.timeout_s) == (2, "127.0.0.1:9092", 30.0)
    assert (spec.filter_min, spec.seed, spec.top_n) == (500, 3, 5)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--engines", "nosuch"], "unknown engine 'nosuch'"),
        (["run", "--engines", "local", "--workloads", "nosuch"], "unknown workload 'nosuch'"),
        (["run", "--engines", "local", "--size", "enormous"], "unknown size 'enormous'"),
        (["run", "--engines", "local", "--address", "local"], "expects ENGINE=VALUE"),
        (["run", "--engines", "local", "--repeats", "0"], "--repeats must be >= 1"),
        (["run", "--engines", "local", "--option", "queue=x"], "expects ENGINE.KEY=VALUE"),
        (["run", "--engines", "local", "--option", "celery.queue=x"], "'celery' is not an engine"),
        (["run", "--engines", "local", "--cell-timeout", "-5"], "--cell-timeout must be"),
        (
            ["run", "--engines", "local", "--workloads", "gpu_queue", "--gpus", "-1"],
            "--gpus must be a whole number",
        ),
        # --param values against each parameter's declared type and range
        (
            ["run", "--engines", "local", "--workloads", "numbers", "--param", "numbers.n=-5"],
            "numbers.n must be a whole number >= 1 (got -5)",
        ),
        (
            ["run", "--engines", "local", "--workloads", "squares", "--param", "squares.n=abc"],
            "squares.n must be a whole number >= 1 (got 'abc')",
        ),
        (
            ["run", "--engines", "local", "--workloads", "stream", "--param", "stream.rate=0"],
            "stream.rate must be a number > 0",
        ),
        (
            ["run", "--workloads", "stream", "--param", "stream.filter_min=2000"],
            "stream.filter_min must be a whole number in [0, 1000]",
        ),
        (
            ["run", "--workloads", "microscopy", "--param", "microscopy.mode=fast"],
            "microscopy.mode must be one of 'auto', 'actors', 'tasks'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle):
    t0 = time.monotonic()
    res = distlab(*args)
    assert time.monotonic() - t0 < 10
    _one_line_exit_2(res, needle)


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
    assert doc["schema"] == "distlab.results" and doc["version"] == results.VERSION
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
        # where the cell's time went: one warm-up run, the measured runs, the rest
        spent = c["time_spent"]
        assert spent["runs"] == {"warmup": 1, "measured": c["wall"]["n"]}
        # (the account is rounded to the millisecond)
        assert spent["measured"] >= sum(c["wall"]["samples"]) - 0.001 * len(c["wall"]["samples"])
        total = spent["warmup"] + spent["measured"] + spent["other"]
        assert abs(spent["total"] - total) < 0.01
    assert doc["timing"]["engines"]["local"] >= sum(
        c["time_spent"]["total"] for c in cells.values()
    )
    assert doc["timing"]["total_s"] >= doc["timing"]["engines"]["local"]
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
        # the victim was running one of the cell's tasks, while the run was in flight
        assert c["fault"]["in_flight"] is True and c["fault"]["victim_observed"] is True, c
        assert c["lost"] is not None and c["duplicates"] is not None
    kafka = cells[("kafka", "batch")]
    assert kafka["verified"] and kafka["lost"] == 0
    # the group re-delivers the killed task: a duplicate execution, counted
    assert kafka["fault"]["duplicated"] >= 1 and kafka["duplicates"] >= 1
    local = cells[("local", "batch")]
    assert local["lost"] > 0 and local["status"] == "failed"
    assert res.returncode == 1  # a failed cell is a non-zero exit, not a crash


def test_one_fault_per_run():
    res = distlab("run", "--engines", "celery", "--kill-worker", "--kill-broker", "--no-report")
    assert res.returncode == 2 and "choose one fault" in res.stderr


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


def _engine_process(parent: psutil.Process, engine: str) -> tuple[psutil.Process, Path] | None:
    """The engine process `distlab run` started for ``engine`` and its events file."""
    for p in parent.children(recursive=True):
        try:
            cmd = p.cmdline()
        except psutil.Error:
            continue
        if "distlab.run.cell" in cmd and cmd[-2].endswith(f"{engine}.job.json"):
            return p, Path(cmd[-1])
    return None


def test_a_variant_whose_engine_process_died_is_a_failed_cell(tmp_path):
    """The engine process is killed (SIGKILL) while its first cell runs: that variant is
    a failed cell with the reason, not a dash, and the run exits 1."""
    proc = subprocess.Popen(
        [
            *DISTLAB,
            "run",
            "--engines",
            "local",
            "--workloads",
            "jobs",
            "--size",
            "tiny",
            "--param",
            "jobs.n=4",
            "--param",
            "jobs.sleep_s=1.0",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--no-report",
            "--out",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        victim = None
        while victim is None and time.monotonic() < deadline and proc.poll() is None:
            found = _engine_process(psutil.Process(proc.pid), "local")
            if found and '"event": "cell_start"' in found[1].read_text():
                victim = found[0]
            time.sleep(0.05)
        assert victim is not None, "the local engine process never started its cell"
        victim.kill()  # a descendant of the command this test started
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err  # a failed cell is exit status 1
    doc = json.loads((tmp_path / "results.json").read_text())
    cells = [c for c in doc["cells"] if c["engine"] == "local"]
    assert [(c["workload"], c["variant"], c["status"]) for c in cells] == [
        ("jobs", "batch", "failed")
    ]
    assert cells[0]["error"] == "the engine process exited with -9 (SIGKILL) during this cell"
    assert doc["engines"]["local"]["error"] == "the engine process exited with -9 (SIGKILL)"


def test_a_variant_that_stalls_is_a_failed_cell(tmp_path):
    """No progress for --cell-timeout seconds: the engine process is stopped and the
    variant it was running is a failed cell saying so."""
    res = distlab(
        "run",
        "--engines",
        "local",
        "--workloads",
        "jobs",
        "--size",
        "tiny",
        "--param",
        "jobs.n=2",
        "--param",
        "jobs.sleep_s=8.0",
        "--repeats",
        "1",
        "--warmup",
        "0",
        "--cell-timeout",
        "4",
        "--no-report",
        "--out",
        str(tmp_path),
        timeout=120,
    )
    assert res.returncode == 1, res.stdout + res.stderr
    doc = json.loads((tmp_path / "results.json").read_text())
    cells = [c for c in doc["cells"] if c["engine"] == "local"]
    assert [(c["variant"], c["status"]) for c in cells] == [("batch", "failed")]
    assert cells[0]["error"] == "no progress for 4 s: stopped during this cell"
