"""The contracts hold across the code base: every engine runs the conformance suite of
every contract it declares, and the layers do not reach around the contracts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from distlab import registry
from distlab.contracts import BATCH, STREAMS, TASKS
from distlab.contracts.lifecycle import DATAFRAME

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src" / "distlab"

SUITES = {TASKS: "TaskConformance", BATCH: "BatchConformance", STREAMS: "StreamConformance",
          DATAFRAME: "DataframeConformance"}  # fmt: skip
#: how an engine tested through conformance.remote names the suite of each shape
REMOTE_CHECKS = {
    BATCH: "map_reduce_exact",
    STREAMS: "stream_windows_exact_and_every_event_arrives",
    TASKS: "submit_returns_future",
    DATAFRAME: "tpch_answers_verified",
}


def _class_bases(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        base.id
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for base in node.bases
        if isinstance(base, ast.Name)
    }


@pytest.mark.parametrize("name", registry.BUILT_IN)
def test_every_engine_runs_the_suites_of_its_contracts(name):
    cls = registry.engine_class(name)
    module = TESTS / f"test_{name}.py"
    if not module.exists():  # engines alike share one (test_queues.py: the task queues)
        declared = f'engine_name = "{name}"'
        module = next((p for p in TESTS.glob("test_*.py") if declared in p.read_text()), module)
    assert module.exists(), f"{name} has no test module"
    bases, text = _class_bases(module), module.read_text()
    for shape in sorted(cls.shapes):
        if SUITES[shape] in bases:
            continue
        # engines in an environment of their own run the same checks remotely
        assert "conformance.remote" in text and REMOTE_CHECKS[shape] in text, (
            f"{name} declares {shape} but its tests do not run {SUITES[shape]}"
        )
    assert "LifecycleConformance" in bases or "close_leaves_nothing_running" in text


def test_no_contract_method_is_looked_up_by_name():
    offenders = [
        f"{p.relative_to(SRC)}:{i}"
        for p in SRC.rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if "getattr(engine" in line
    ]
    assert offenders == []


def test_workloads_and_the_core_name_no_engine():
    # "pandas" is also an API (the pandas API that Dask shares, the queries' frame form)
    # and the library of the dataframe workloads' single-core reference
    names = [n for n in registry.BUILT_IN if n not in ("local", "pandas")]
    pattern = re.compile(r"\b(" + "|".join(names) + r")\b", re.IGNORECASE)
    files = [
        SRC / "run" / "matrix.py",
        *sorted((SRC / "results").glob("*.py")),
        *sorted((SRC / "workloads").glob("*.py")),
    ]
    found = []
    for path in files:
        tree = ast.parse(path.read_text())
        code_names = {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and not _is_docstring(node, tree)
        } | {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        hits = sorted({m.group(0) for s in code_names for m in [pattern.search(s)] if m})
        if hits:
            found.append(f"{path.name}: {hits}")
        if "sys.modules" in path.read_text():
            found.append(f"{path.name}: sys.modules")
    assert found == []


def _is_docstring(node: ast.Constant, tree: ast.Module) -> bool:
    for parent in ast.walk(tree):
        body = getattr(parent, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if body[0].value is node:
                return True
    return False


def test_pacer_counts_late_items_and_how_far_behind_the_last_one_was():
    import time

    from distlab.contracts.pacing import Pacer

    behind = Pacer(0.001, t0=time.perf_counter() - 1.0)  # a second behind from the start
    for i in range(10):
        behind.wait(i)
    assert behind.late == behind.items == 10 and behind.late_share == 1.0
    assert 0.98 < behind.last_lag_s <= behind.worst_lag_s < 2.0
    on_time = Pacer(0.002)
    for i in range(10):
        on_time.wait(i)
    # scheduling on a loaded machine can wake a sleeper some ms late (CI failed at 5 ms):
    # the bound tells an on-time pacer from the one a second behind
    assert on_time.items == 10 and on_time.last_lag_s < 0.1


def test_pacer_runs_send_what_is_due_never_earlier_and_count_late_items():
    import time

    from distlab.contracts.pacing import Pacer

    # a second behind from the start: the first run is everything due by now, all late
    behind = Pacer(0.001, t0=time.perf_counter() - 1.0)
    j = behind.wait_run(0, 5000)
    assert 995 <= j < 1100 and behind.items == j
    assert behind.late >= j - 10 and behind.worst_lag_s >= 0.99 and behind.last_lag_s < 0.01
    # on time: no item starts before it is due, and runs cover every item exactly once
    pacer = Pacer(0.0001)
    starts, i = [], 0
    while i < 2000:
        j = pacer.wait_run(i, 2000)
        now = time.perf_counter()
        starts += [(k, now) for k in range(i, j)]
        i = j
    assert [k for k, _ in starts] == list(range(2000)) and pacer.items == 2000
    assert all(now >= pacer.intended(k) for k, now in starts)
    assert pacer.late_share < 0.05
