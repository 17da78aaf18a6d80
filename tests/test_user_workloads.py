"""Your own work in the matrix: a function from a file the test writes (not shipped with
distlab) through --function on every task engine, a workload class of your own (by
MODULE:CLASS and by entry point), distlab.compare from a `python -c` session, and the
one-line errors of each form."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from commands import DISTLAB
from distlab.workloads.user import judged

TASK_ENGINES = ["local", "ray", "dask", "celery", "kafka", "scoop", "spark"]

USER_MODULE = """
import functools
import math
import threading


class Odd(ValueError):
    pass


def leibniz(k):
    # CPU work: 2,000 terms of the Leibniz series for pi/4
    return sum((-1) ** i / (2 * i + 1) for i in range(k * 2000, (k + 1) * 2000))


def make_items():
    return list(range(60))


def close_enough(result, golden):
    return len(result) == len(golden) and all(math.isclose(a, b) for a, b in zip(result, golden))


def always_wrong(result, golden):
    return False


def forgets_to_return(result, golden):
    result == golden  # the comparison is made, its answer never returned


def _guarded(lock, x):
    with lock:
        return x


# a callable that carries a lock: it cannot be pickled, so no engine can ship it
holds_a_lock = functools.partial(_guarded, threading.Lock())
"""

USER_WORKLOAD = """
from distlab.workloads import RunOutput, Workload


def triple(x):
    return 3 * x


class Triples(Workload):
    name = "triples"
    description = "three times each number"
    sizes = {"tiny": {"n": 20}, "default": {"n": 200}, "seed": {"n": 2000}}

    def reference(self):
        return [triple(x) for x in range(self.params["n"])]

    def run(self, engine, variant):
        n = self.params["n"]
        return RunOutput(engine.map(triple, range(n)), n_tasks=n)
"""


def _run(args: list[str], cwd: Path, timeout: float = 600, env: dict | None = None):
    import os

    return subprocess.run(
        [*DISTLAB, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    (tmp_path / "userwork.py").write_text(USER_MODULE)
    (tmp_path / "userclass.py").write_text(USER_WORKLOAD)
    return tmp_path


@pytest.mark.slow
def test_a_function_from_the_users_file_runs_verified_on_every_task_engine(user_dir):
    out = user_dir / "out"
    res = _run(
        [
            "run",
            "--engines",
            ",".join(TASK_ENGINES),
            "--function",
            "userwork:leibniz",
            "--items",
            "userwork:make_items",
            "--verify",
            "userwork:close_enough",
            "--out",
            str(out),
        ],  # fmt: skip
        cwd=user_dir,
        timeout=900,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    seq = doc["references"]["leibniz"]["runs"]["sequential"]
    assert seq["verified"] and seq["wall"]["median"] > 0
    cells = {(c["engine"], c["variant"]): c for c in doc["cells"]}
    for engine in TASK_ENGINES:
        for variant in ("per_item", "batched"):
            cell = cells[engine, variant]
            assert cell["status"] == "ok" and cell["verified"], cell
            assert cell["verify_detail"] == "accepted by the verify function"
            assert cell["wall"]["median"] > 0 and cell["speedup"] > 0
            assert cell["answer"]["length"] == 60
    page = (out / "report.html").read_text()
    # ranked like the built-in workloads: a glance row, and the section on your functions
    assert "leibniz (per_item)" in page and "Your functions" in page
    assert "leibniz" in res.stdout  # the end-of-run summary


def test_a_function_on_the_process_pool_with_items_from_a_file(user_dir):
    (user_dir / "items.json").write_text(json.dumps(list(range(10))))
    out = user_dir / "out"
    res = _run(
        [
            "run",
            "--engines",
            "local",
            "--function",
            f"{user_dir / 'userwork.py'}:leibniz",
            "--items",
            "items.json",
            "--out",
            str(out),
            "--repeats",
            "1",
        ],  # fmt: skip
        cwd=user_dir,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr
    doc = json.loads((out / "results.json").read_text())
    assert {c["workload"] for c in doc["cells"]} == {"leibniz"}  # --function alone: no built-ins
    assert all(c["verified"] for c in doc["cells"])
    assert doc["cells"][0]["verify_detail"] == "equal to the reference"


def _run_with_check(user_dir, check: str) -> tuple:
    """``--function`` on the process pool with ``--verify userwork:CHECK``: the run and
    the process pool's cells."""
    out = user_dir / "out"
    argv = ["run", "--engines", "local", "--function", "userwork:leibniz", "--items",
            "userwork:make_items", "--verify", f"userwork:{check}", "--repeats", "1",
            "--out", str(out)]  # fmt: skip
    res = _run(argv, cwd=user_dir)
    doc = json.loads((out / "results.json").read_text())
    return res, [c for c in doc["cells"] if c["engine"] == "local"]


def test_a_verify_function_that_refuses_fails_the_cell(user_dir):
    res, cells = _run_with_check(user_dir, "always_wrong")
    assert res.returncode == 1
    assert cells and all(not c["verified"] for c in cells)


def test_a_verify_function_that_forgets_to_return_fails_the_cell_saying_so(user_dir):
    res, cells = _run_with_check(user_dir, "forgets_to_return")
    assert res.returncode == 1, res.stdout[-2000:] + res.stderr
    assert cells and all(c["status"] == "failed" and not c["verified"] for c in cells)
    assert all("returned None, not True or False" in c["verify_detail"] for c in cells)
    assert all("forget to return" in c["error"] for c in cells)


@pytest.mark.parametrize(
    ("verdict", "accepted", "said"),
    [
        (True, True, "accepted by the verify function"),
        (np.True_, True, "accepted by the verify function"),
        (False, False, "returned False"),
        (np.False_, False, "returned False"),
        (None, False, "returned None, not True or False: did it forget to return?"),
        (0, False, "returned 0 (int), not True or False"),
        (1, False, "returned 1 (int), not True or False"),
        ("yes", False, "returned 'yes' (str), not True or False"),
        (np.array([True]), False, "(ndarray), not True or False"),
    ],
)
def test_only_true_accepts_an_answer(verdict, accepted, said):
    ok, detail = judged(verdict)
    assert ok is accepted and said in detail, detail


def test_a_workload_class_of_your_own_by_module_and_by_entry_point(user_dir):
    # an installed distribution declaring the entry point: a .dist-info on PYTHONPATH
    info = user_dir / "userclass-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: userclass\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[distlab.workloads]\ntriples = userclass:Triples\n")
    out = user_dir / "out"
    res = _run(
        [
            "run",
            "--engines",
            "local",
            "--workloads",
            "userclass:Triples,triples",
            "--size",
            "tiny",
            "--repeats",
            "1",
            "--out",
            str(out),
        ],  # fmt: skip
        cwd=user_dir,
        env={"PYTHONPATH": str(user_dir)},
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr
    doc = json.loads((out / "results.json").read_text())
    names = {c["workload"]: c for c in doc["cells"]}
    assert set(names) == {"userclass:Triples", "triples"}
    assert all(c["verified"] and c["n_tasks"] == 20 for c in names.values())
    listed = _run(["workloads"], cwd=user_dir, env={"PYTHONPATH": str(user_dir)})
    assert "triples" in listed.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--function", "nosuchmodule:fn", "--items", "x.json"], "cannot import nosuchmodule"),
        (["--function", "userwork:nosuch", "--items", "userwork:make_items"], "has no attribute"),
        (["--function", "userwork:leibniz"], "needs --items"),
        (["--items", "userwork:make_items"], "go with --function"),
        (["--function", "userwork:leibniz", "--items", "missing.json"], "no such file"),
        (
            ["--function", "userwork:holds_a_lock", "--items", "userwork:make_items"],
            "cannot be sent to workers",
        ),  # fmt: skip
        (["--function", "leibniz", "--items", "userwork:make_items"], "MODULE:NAME"),
        (["--workloads", "userwork:make_items"], "not a distlab Workload class"),
    ],
)
def test_bad_user_work_is_one_line_and_exit_2(user_dir, args, needle):
    res = _run(["run", "--engines", "local", *args], cwd=user_dir, timeout=60)
    assert res.returncode == 2, res.stdout + res.stderr
    assert needle in res.stderr, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_compare_from_a_python_c_session(tmp_path):
    """A function and a verify defined under `python -c` (a __main__ with no file, as in
    a notebook): they travel by value, on the process pool as on Dask."""
    script = textwrap.dedent(
        f"""
        import json, distlab
        def cube(x):
            return x ** 3
        def same(result, golden):
            return result == golden
        doc = distlab.compare(cube, range(30), engines=["local", "dask"], verify=same,
                              out={str(tmp_path / "out")!r}, repeats=1)
        print(json.dumps([[c.engine, c.variant, c.status, c.verified] for c in doc.cells]))
        """
    )
    res = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr[-3000:]
    cells = json.loads(res.stdout.strip().splitlines()[-1])
    assert sorted(cells) == sorted(
        [[e, v, "ok", True] for e in ("local", "dask") for v in ("per_item", "batched")]
    )
    assert (tmp_path / "out" / "report.html").is_file()
