"""External clusters started with the engines' own command-line tools, for address tests.

Each helper starts the processes in the foreground (so this process owns them), waits
until they answer on 127.0.0.1, yields the address, and stops them by PID afterwards,
checking that no process or port is left. Nothing is ever stopped by name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator

from conformance import assert_nothing_left
from distlab.procs import free_port, listening_ports, stop_pids, tree, wait_port

BIN = os.path.dirname(sys.executable)


def _popen(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        argv,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready within {timeout:.0f}s")
        time.sleep(0.1)


@contextlib.contextmanager
def owned_processes(procs: list[subprocess.Popen]) -> Iterator[None]:
    """Stop these processes and all their descendants by PID on exit; check nothing
    is left (descendants are collected at exit, before their parents go)."""
    try:
        yield
    finally:
        pids = {p.pid for p in tree([p.pid for p in procs])}
        ports = listening_ports(pids)
        stop_pids([p.pid for p in procs])
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=5)
        assert_nothing_left(pids, ports)


@contextlib.contextmanager
def ray_head(num_cpus: int = 2) -> Iterator[str]:
    """``ray start --head --block``: the CLI process stays in the foreground and is the
    parent of gcs_server, raylet and the rest, so stopping its tree stops the cluster."""
    port = free_port()
    temp_dir = tempfile.mkdtemp(prefix="distlab-rayhead-")
    head = _popen(
        [
            os.path.join(BIN, "ray"),
            "start",
            "--head",
            "--block",
            "--port",
            str(port),
            "--node-ip-address",
            "127.0.0.1",
            "--num-cpus",
            str(num_cpus),
            "--include-dashboard",
            "false",
            "--disable-usage-stats",
            "--temp-dir",
            temp_dir,
        ],
        env={"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"},
    )
    try:
        with owned_processes([head]):
            wait_port("127.0.0.1", port, timeout=60, proc=head)
            # The GCS answers before the raylet registers; a driver needs the raylet.
            wait_until(lambda: any(p.name() == "raylet" for p in tree([head.pid])), 60, "raylet")
            yield f"127.0.0.1:{port}"
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)


@contextlib.contextmanager
def dask_cluster(nworkers: int = 2) -> Iterator[str]:
    """``dask scheduler`` plus ``dask worker --nworkers N``, all on 127.0.0.1."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask_cli = os.path.join(BIN, "dask")
    scratch = tempfile.mkdtemp(prefix="distlab-test-dask-")
    # the scheduler's and workers' directories in a folder removed afterwards (Dask's
    # default keeps a dask-scratch-space in the system's temp dir)
    quiet = {"DASK_LOGGING__DISTRIBUTED": "error", "DASK_TEMPORARY_DIRECTORY": scratch}
    scheduler = _popen(
        [
            dask_cli,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--dashboard-address",
            "127.0.0.1:0",
        ],
        env=quiet,
    )
    try:
        procs = [scheduler]
        with owned_processes(procs):
            wait_port("127.0.0.1", port, timeout=60, proc=scheduler)
            procs.append(
                _popen(
                    [
                        dask_cli,
                        "worker",
                        address,
                        "--nworkers",
                        str(nworkers),
                        "--nthreads",
                        "1",
                        "--host",
                        "127.0.0.1",
                        "--no-dashboard",
                    ],
                    env=quiet,
                )
            )
            yield address
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def check_gpu_runs(runs: list[tuple[float, float, str]], units: set[str]) -> None:
    """``runs`` are (start, end, unit ids) of tasks that each asked for one GPU.

    At most len(units) ran at once, the cap was reached (the test can tell a queue from
    parallel runs), and tasks that overlapped in time held different units.
    """
    assert all(unit in units for _, _, unit in runs), runs
    events = sorted([(s, 1) for s, _, _ in runs] + [(e, -1) for _, e, _ in runs])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak == len(units), f"peak concurrency {peak}, expected {len(units)}: {runs}"
    for i, (s1, e1, u1) in enumerate(runs):
        for s2, e2, u2 in runs[i + 1 :]:
            if s1 < e2 and s2 < e1:
                assert u1 != u2, f"overlapping tasks shared unit {u1}: {runs}"
