"""The Celery engine's worker processes: started with its config, waited for until every
pool child is ready, checked for having exited, their logs and pool children (a mixin of
CeleryEngine, which owns the attributes these methods use)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import weakref
from pathlib import Path
from typing import Any

import celery.exceptions
import psutil

from distlab.contracts import BrokerLost, DistlabError, EngineStartError
from distlab.engines.celery.app import CONFIG_ENV, DRIVER_ENV, PID_TASK, UNIT_ENV
from distlab.engines.common.queue_config import user_import_path
from distlab.procs import stop_pids

WORKER_START_TIMEOUT = 60.0
ROOT_WARNING_FILTER = "ignore:You're running the worker with superuser privileges"


def worker_environment(config: dict[str, Any], resource: str = "") -> dict[str, str]:
    """The environment of a worker process of the engine's app with ``config``."""
    env = dict(os.environ)
    env[CONFIG_ENV] = json.dumps(config)
    env["PYTHONPATH"] = user_import_path()
    warnings = [ROOT_WARNING_FILTER, env.get("PYTHONWARNINGS", "")]
    env["PYTHONWARNINGS"] = ",".join(w for w in warnings if w)
    if os.geteuid() == 0:
        env["C_FORCE_ROOT"] = "1"  # pickle as root: the queue is private to this engine
    env[UNIT_ENV] = resource
    return env


def worker_command(queue: str, concurrency: int, node: str, pool: str = "prefork") -> list[str]:
    """A worker process (a ``pool`` of ``concurrency``: prefork children or threads)
    serving ``queue``, named ``node`` (unique per broker: the test hosts share one host
    name)."""
    return [
        sys.executable, "-m", "celery", "-A", "distlab.engines.celery.app", "-q",
        "worker", f"--pool={pool}", f"--concurrency={concurrency}",
        "--loglevel=WARNING", "--without-gossip", "--without-mingle",
        "--without-heartbeat", "-O", "fair",
        "-Q", queue, "-n", node,
    ]  # fmt: skip


class WorkerProcesses:
    """Worker-process management for CeleryEngine."""

    def _start_worker(
        self, config: dict[str, Any], queue: str, concurrency: int, resource: str = ""
    ) -> None:
        """A worker process serving ``queue``; with ``resource``, each of its pool
        children holds one unit of it (distlab.engines.celery.app._own_unit)."""
        env = worker_environment(config, resource)
        env[DRIVER_ENV] = str(os.getpid())
        # resource workers keep prefork: each pool child holds one unit
        pool = self.options["pool"] if not resource else "prefork"
        cmd = worker_command(queue, concurrency, f"{queue}@%h", pool)
        with open(self._log_path(queue), "wb") as log:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        self._workers[queue] = proc
        # Stopped at interpreter exit even if close() is never called.
        self._finalizers.append(weakref.finalize(self, stop_pids, [proc.pid], 10.0))

    def _wait_queue_served(self) -> None:
        """With workers started elsewhere (option ``queue``): until one of them has run a
        probe task from the queue, and from each resource's queue."""
        queues = [self._queue, *(self._resource_queue(r) for r in self._resource_totals)]
        for queue in queues:
            probe = self._app.tasks[PID_TASK].apply_async(queue=queue)
            try:
                probe.get(timeout=WORKER_START_TIMEOUT)
            except celery.exceptions.TimeoutError:
                raise EngineStartError(
                    f"no celery worker serves queue {queue!r} on {self._broker_label} "
                    f"within {WORKER_START_TIMEOUT:.0f}s"
                ) from None

    def _log_path(self, queue: str) -> Path:
        return Path(self._workdir or ".") / f"{queue}.log"

    def _wait_workers_ready(self) -> None:
        """Return once every worker has run a task; fail with its log if one exits."""
        probes = {q: self._app.tasks[PID_TASK].apply_async(queue=q) for q in self._workers}
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        for queue, probe in probes.items():
            while True:
                try:
                    probe.get(timeout=0.25)
                    break
                except celery.exceptions.TimeoutError:
                    pass
                self.check_workers(EngineStartError)
                if time.monotonic() > deadline:
                    raise EngineStartError(
                        f"celery worker not ready within {WORKER_START_TIMEOUT:.0f}s: "
                        f"{self._log_tail(queue)}"
                    )
            # The prefork pool starts all its children at once; wait until they are there.
            while not self._pool_children(queue) and time.monotonic() < deadline:
                time.sleep(0.02)
        while len(self.worker_pids()) < self._expected_children() and time.monotonic() < deadline:
            time.sleep(0.02)

    def _expected_children(self) -> int:
        if self.options["pool"] == "threads":
            return 1 + sum(u for u in self._resource_totals.values() if u > 0)
        return (self.workers or 0) + sum(u for u in self._resource_totals.values() if u > 0)

    def _log_tail(self, queue: str, lines: int = 3) -> str:
        try:
            text = self._log_path(queue).read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:]) or "(empty log)"

    def check_workers(self, error: type[DistlabError] = DistlabError) -> None:
        """Raise ``error`` (with the end of its log) if a worker process has exited, and
        BrokerLost if the embedded Redis has been dead for BROKER_GRACE_S."""
        for queue, proc in self._workers.items():
            if proc.poll() is None:
                continue
            if self._redis is not None and not self._redis.alive():
                # a worker whose broker died may crash on its next ack: the broker is
                # the news (BrokerLost), not one more lost task
                raise BrokerLost(
                    f"the celery broker ({self._redis.label}) died, and the celery worker "
                    f"exited after it (code {proc.returncode})"
                )
            raise error(
                f"the celery worker exited with code {proc.returncode}: {self._log_tail(queue)}"
            )
        dead = self._broker_dead()
        if dead:
            raise BrokerLost(dead)

    def _pool_children(self, queue: str) -> list[int]:
        proc = self._workers.get(queue)
        if proc is None:
            return []
        if self.options["pool"] == "threads" and queue == self._queue:
            return [proc.pid]  # a thread pool runs its tasks in the worker process itself
        try:
            return [c.pid for c in psutil.Process(proc.pid).children()]
        except psutil.Error:
            return []
