"""An engine of another package (tests/engine_plugin: distlab-threads), installed into
this environment as a user installs one, found through its entry point, and held to the
same contract as the built-in engines."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import distlab
from commands import distlab as run_distlab
from conformance.lifecycle import LifecycleConformance
from conformance.tasks import TaskConformance
from distlab import registry
from distlab.contracts import DistlabError, EngineStartError
from test_engine_options import check_declaration_matches_class

PACKAGE = Path(__file__).parent / "engine_plugin"
DISTRIBUTION = "distlab-threads"


def _pip(command: str, *args: str) -> list[str]:
    """uv pip (this project's environments have no pip of their own), else pip."""
    uv = shutil.which("uv")
    if uv:
        return [uv, "pip", command, "--python", sys.executable, *args]
    return [
        sys.executable,
        "-m",
        "pip",
        command,
        *(["-y"] if command == "uninstall" else []),
        *args,
    ]


def _forget_the_package() -> None:
    for module in [m for m in sys.modules if m.split(".")[0] == "distlab_threads"]:
        del sys.modules[module]
    importlib.invalidate_caches()
    registry.discover()


@pytest.fixture(scope="module", autouse=True)
def installed_plugin():
    # a regular install (not editable: an editable one's path file is read only when an
    # interpreter starts), without dependencies: distlab is this checkout
    subprocess.run(
        _pip("install", "--no-deps", "--quiet", str(PACKAGE)),
        check=True,
        capture_output=True,
        timeout=300,
    )
    _forget_the_package()
    try:
        yield
    finally:
        subprocess.run(
            _pip("uninstall", DISTRIBUTION),
            capture_output=True,
            timeout=120,
        )
        _forget_the_package()


def test_found_through_its_entry_point_after_the_built_ins():
    names = list(registry.ENGINES)
    assert names[: len(registry.BUILT_IN)] == list(registry.BUILT_IN)
    assert "threads" in names[len(registry.BUILT_IN) :]
    assert "threads" not in registry.BROKEN
    plugin = registry.entry("threads")
    assert plugin.installed() and plugin.install_hint == "pip install distlab-threads"
    assert not plugin.deploy and plugin.deploy_why


def test_its_declaration_matches_its_class():
    check_declaration_matches_class("threads")


def test_listed_by_distlab_engines_with_its_option():
    res = run_distlab("engines")
    assert res.returncode == 0, res.stderr
    rows = [line for line in res.stdout.splitlines() if "threads" in line]
    assert any("yes" in row and "tasks" in row for row in rows), res.stdout
    assert any("close_wait_s" in row and "10.0" in row for row in rows), res.stdout


class TestThreadsEngine(LifecycleConformance, TaskConformance):
    engine_name = "threads"


def test_its_option_is_checked():
    eng = distlab.engine("threads", close_wait_s=2)
    assert eng.options == {"close_wait_s": 2.0}
    with pytest.raises(DistlabError, match=r"option threads.close_wait_s must be a number >= 0"):
        distlab.engine("threads", close_wait_s=-1)
    with pytest.raises(DistlabError, match=r"threads's options: close_wait_s$"):
        distlab.engine("threads", close_wait=1)
    with pytest.raises(EngineStartError, match="takes no --address"):
        registry.engine_class("threads").check_address("127.0.0.1:1")


@pytest.mark.parametrize(
    ("option", "needle"),
    [
        ("threads.close_wait=1", "unknown option threads.close_wait; threads's options: close_wait_s"),
        ("threads.close_wait_s=soon", "option threads.close_wait_s must be a number >= 0, got 'soon'"),
        ("threads.close_wait_s=-3", "option threads.close_wait_s must be a number >= 0, got -3"),
    ],
)  # fmt: skip
def test_run_refuses_its_bad_options_in_one_line(option, needle):
    res = run_distlab(
        "run", "--engines", "threads", "--workloads", "squares", "--size", "tiny",
        "--option", option,
    )  # fmt: skip
    assert res.returncode == 2, res.stdout + res.stderr
    assert needle in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "Traceback" not in res.stdout + res.stderr


def test_runs_and_verifies_beside_a_built_in(tmp_path):
    res = run_distlab(
        "run", "--engines", "local,threads", "--workloads", "squares", "--size", "tiny",
        "--option", "threads.close_wait_s=5", "--out", str(tmp_path), timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads((tmp_path / "results.json").read_text())
    cells = {c["engine"]: c for c in doc["cells"]}
    assert set(cells) == {"local", "threads"}
    for cell in cells.values():
        assert cell["status"] == "ok" and cell["verified"] is True, cell
    # ten sleeps on threads overlap as they do on processes
    assert cells["threads"]["speedup"] > 1.3
    assert doc["engines"]["threads"]["startup_s"] >= 0


def test_close_ends_its_threads():
    with distlab.engine("threads", workers=3) as eng:
        threads = eng.worker_threads()
        assert len(threads) == 3
        assert eng.map(abs, [-1, -2]) == [1, 2]
    assert eng.worker_threads() == [] and not any(t.is_alive() for t in threads)
    assert not [t for t in threading.enumerate() if t.name.startswith("distlab-threads-")]


def test_its_threads_end_with_its_process():
    """A driver that exits without closing the engine, a task still running: the pool's
    threads do not keep the process alive (nothing of the engine outlives it)."""
    script = textwrap.dedent(
        """
        import time, distlab
        eng = distlab.engine("threads", workers=2).start()
        eng.submit(time.sleep, 600)
        time.sleep(0.2)
        print("running", flush=True)
        """
    )
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == "running", res.stderr
    assert time.monotonic() - t0 < 30
