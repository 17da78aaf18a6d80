"""SCOOP (Scalable COncurrent Operations in Python) as a task engine: the driver's side.

SCOOP runs a whole program under its launcher (``python -m scoop -n N prog.py``), which
does not fit a driver that submits tasks as it goes. So the adapter launches SCOOP with
a small program of its own, bridge.py. That program runs on SCOOP's *origin*, connects
back to the driver over a loopback socket (authenticated with a random key), and relays
each task to SCOOP's workers with ``scoop.futures.submit`` (distlab.engines.scoop.origin);
results come back over the same socket and complete ``concurrent.futures.Future``
objects in a reader thread of the driver.

Facts that shaped it:

* ``-n workers+1`` gives ``workers`` worker processes (the origin only relays).
* The launcher exits 0 even when the program fails: failure is detected here (the
  launcher exiting, the socket closing, or no "ready" in time).
* SCOOP's broker binds its ZeroMQ sockets on all interfaces (``tcp://*``); there is no
  option to confine it to loopback. The driver<->origin socket is on 127.0.0.1 only.
* SCOOP does not re-run a dead worker's tasks: a worker death fails the pending tasks
  and the engine (see _watch_workers) rather than letting futures wait forever.
* An address is a comma-separated host list for ``--hosts``: SCOOP starts the remote
  workers over passwordless SSH with the same python and file paths (hosts checked on
  port 22 first); the origin runs on this machine, to reach the driver on loopback.

Tasks and results travel cloudpickled (closures work; an exception keeps its type and
carries the remote traceback); large arguments go through the broker: share() is by value.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future as ConcurrentFuture
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import cloudpickle
import psutil
import scoop

from distlab.contracts import DistlabError, EngineStartError, Future, TaskEngine
from distlab.engines.common.addressing import unreachable
from distlab.engines.scoop.origin import (
    AUTHKEY_FILE,
    ID_BYTES,
    RESULT,
    STOP,
    TASK,
    ScoopBridgeLost,
    ScoopTaskLost,
    greet_origin,
    settle,
)
from distlab.engines.scoop.plugin import PLUGIN
from distlab.procs import port_open, stop_pids, tree

BRIDGE_SCRIPT = str(Path(__file__).with_name("bridge.py"))

_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")


class ScoopEngine(TaskEngine):
    name = "scoop"
    plugin = PLUGIN
    data_path = {"argument": "cloudpickled to SCOOP's origin, then via its ZeroMQ broker",
                 "result": "the same way back: worker -> broker -> origin -> driver",
                 "shared": "by value: pickled into every task that uses it"}  # fmt: skip
    address_help = (
        "host1,host2: extra hosts for SCOOP workers, started over passwordless SSH with the "
        "same python and distlab paths; the origin runs here"
    )

    #: the whole host check (port 22 of every host) ends within this
    hosts_timeout = 8.0

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        super().__init__(address, workers, **options)
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._reader: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self._stop_watching = threading.Event()
        self._worker_procs: list[psutil.Process] = []
        self._pending: dict[int, ConcurrentFuture] = {}
        self._lock = threading.Lock()
        self._next_id = 0
        self._lost: str | None = None  # why the bridge is gone, once it is
        self._closing = False
        self._known: dict[int, psutil.Process] = {}  # every process seen in our tree
        self._origin_pid: int | None = None
        self._workdir: str | None = None

    # -- lifecycle -------------------------------------------------------------------
    @staticmethod
    def _hosts(address: str) -> list[str]:
        """Hosts from 'h1,h2', each a plain host name."""
        hosts = [h.strip() for h in address.split(",") if h.strip()]
        if not hosts:
            raise EngineStartError(
                f"SCOOP address {address!r} names no host (expected: host1,host2)"
            )
        for host in hosts:
            if not _HOSTNAME.match(host):
                why = f"{host!r} is not a host name (expected: host1,host2)"
                raise EngineStartError(f"SCOOP address {address!r}: {why}")
        return hosts

    @classmethod
    def check_address(cls, address: str) -> None:
        """A host list, every host answering on SSH's port 22 (SCOOP starts its remote
        workers over ssh)."""
        deadline = time.monotonic() + cls.hosts_timeout
        for host in cls._hosts(address):
            left = max(0.5, min(3.0, deadline - time.monotonic()))
            if not port_open(host, 22, timeout=left):
                raise unreachable(
                    cls.name,
                    address,
                    f"{host} does not answer on SSH port 22; SCOOP starts remote workers over ssh",
                )

    def _start(self) -> None:
        hosts: list[str] = []
        if self.address:
            self.check_address(self.address)
            hosts = self._hosts(self.address)
        try:
            self._launch(hosts)
            self._warm_up()
        except Exception as exc:
            if isinstance(exc, EngineStartError):
                raise
            # SCOOP's own log says why better than a lost task or a socket error (read
            # here: close() removes it)
            reason = self._log_tail() or str(exc)
            raise EngineStartError(f"SCOOP did not start: {reason}") from exc

    def _launch(self, hosts: list[str]) -> None:
        timeout = self.options["start_timeout"]
        self._workdir = tempfile.mkdtemp(prefix="distlab-scoop-")
        listener = socket.socket()
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            listener.settimeout(0.2)
            authkey = os.urandom(32)
            key_file = Path(self._workdir, AUTHKEY_FILE)  # the directory is the owner's only
            key_file.write_text(authkey.hex())
            env = dict(os.environ)
            # Workers import the driver's modules (functions pickled by reference).
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
            cmd = [sys.executable, "-m", "scoop", "-q", "-n", str(self.workers + 1)]
            if hosts:
                # The origin (first host) is this machine, also when named by an external
                # host name (over ssh if SCOOP does not know the name as local: test hosts)
                origin = self.options["external_hostname"] or "127.0.0.1"
                cmd += ["--hosts", str(origin), *hosts]
                for option in ("external_hostname", "ssh_executable"):
                    if self.options[option]:
                        cmd += ["--" + option.replace("_", "-"), str(self.options[option])]
            cmd += [BRIDGE_SCRIPT, f"127.0.0.1:{listener.getsockname()[1]}", str(key_file)]
            with open(self._log_path(), "wb") as log:
                self._proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # a terminal's Ctrl-C goes to the driver only
                )
            self._remember_tree()
            deadline = time.monotonic() + timeout
            sock = None
            while sock is None:
                try:
                    sock, _ = listener.accept()
                except TimeoutError:
                    self._remember_tree()
                    if self._proc.poll() is not None:
                        raise EngineStartError(
                            "SCOOP's launcher exited before its origin connected"
                            + _suffix(self._log_tail())
                        ) from None
                    if time.monotonic() > deadline:
                        raise EngineStartError(
                            f"SCOOP's origin did not connect within {timeout:g}s"
                            + _suffix(self._log_tail())
                        ) from None
        finally:
            listener.close()
        self._conn, self._origin_pid = greet_origin(sock, authkey, deadline)
        self._remember_tree()
        self._reader = threading.Thread(
            target=self._read_results, name="distlab-scoop-reader", daemon=True
        )
        self._reader.start()

    def _watch_workers(self) -> None:
        """Fail the engine when a SCOOP worker dies, instead of waiting forever.

        SCOOP neither re-runs a dead worker's tasks nor forgets the worker: its broker
        may still route new tasks to it (workers ask for work ahead), where they vanish.
        So after a worker death no result can be trusted to come: every pending task
        fails and new ones are refused until the engine is restarted.
        """
        origin = self._known.get(self._origin_pid)
        while not self._stop_watching.wait(0.25):
            dead = [p for p in self._worker_procs if not _alive(p)]
            if not dead or self._closing:
                continue
            if origin is not None and not _alive(origin):
                return  # the launcher is tearing down; the reader reports the origin
            pids = ", ".join(str(p.pid) for p in dead)
            self._fail_pending(
                f"SCOOP worker (pid {pids}) died; SCOOP does not re-run its tasks "
                "(restart the engine)",
                error=ScoopTaskLost,
            )
            return

    def _warm_up(self) -> None:
        """Run one tiny task per worker so start-up is measured apart from the work."""
        timeout = self.options["start_timeout"]
        for fut in [self.submit(os.getpid) for _ in range(self.workers)]:
            if fut.result(timeout=timeout) == self._origin_pid:
                raise EngineStartError("SCOOP ran a task in its origin: workers did not start")
        self._remember_tree()
        self._worker_procs = [self._known[pid] for pid in self.worker_pids()]
        self._stop_watching.clear()
        self._watchdog = threading.Thread(
            target=self._watch_workers, name="distlab-scoop-watchdog", daemon=True
        )
        self._watchdog.start()

    def close(self) -> None:
        with self._lock:
            self._closing = True
        self._stop_watching.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=5)
        conn, proc = self._conn, self._proc
        if conn is not None:
            try:
                with self._lock:
                    conn.send_bytes(STOP)
            except OSError:
                pass
        if proc is not None:
            self._remember_tree()
            try:
                proc.wait(timeout=5)  # the origin returns, the launcher stops its workers
            except subprocess.TimeoutExpired:
                pass
            # Whatever is left (workers orphaned by the launcher, a stuck launcher) goes by PID.
            stop_pids([p.pid for p in self._known.values() if _alive(p)])
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if conn is not None:
            conn.close()
        if self._reader is not None:
            self._reader.join(timeout=5)
        self._fail_pending("the SCOOP engine was closed")
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._conn = self._proc = self._reader = self._watchdog = None
        self._worker_procs = []
        self._workdir = None
        self._known.clear()
        self._lost = None
        self._closing = False
        self.started = False

    # -- tasks -----------------------------------------------------------------------
    def submit_with(self, fn, args=(), kwargs=None, *, resources=None) -> Future:
        if resources:
            raise DistlabError("the scoop engine does not schedule by resources")
        payload = cloudpickle.dumps((fn, tuple(args), kwargs or {}))
        fut: ConcurrentFuture = ConcurrentFuture()
        with self._lock:
            if self._conn is None or self._lost:
                raise ScoopTaskLost(self._lost or "the SCOOP engine is not started")
            task_id = self._next_id
            self._next_id += 1
            self._pending[task_id] = fut
            try:
                self._conn.send_bytes(TASK + task_id.to_bytes(ID_BYTES, "big") + payload)
            except OSError:
                del self._pending[task_id]
                raise ScoopBridgeLost("the SCOOP origin is gone (its socket is closed)") from None
        return fut

    def _read_results(self) -> None:
        conn = self._conn
        try:
            while True:
                frame = conn.recv_bytes()
                if frame[:1] != RESULT:
                    continue
                task_id = int.from_bytes(frame[1 : 1 + ID_BYTES], "big")
                status, data = frame[1 + ID_BYTES], frame[2 + ID_BYTES :]
                with self._lock:
                    fut = self._pending.pop(task_id, None)
                if fut is not None:
                    settle(fut, status, data)
        except (EOFError, OSError):
            pass
        if self._closing:
            return
        # (The launcher's exit code says nothing: SCOOP always exits with 0.)
        self._fail_pending(f"the SCOOP origin (pid {self._origin_pid}) went away")

    def _fail_pending(
        self, reason: str, error: type[ScoopTaskLost] = ScoopBridgeLost, lost: bool = True
    ) -> None:
        """Fail every pending task; ``lost`` also refuses new ones (the origin is gone)."""
        with self._lock:
            if lost:
                self._lost = self._lost or reason
            pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(error(f"{reason}; the task's result is lost"))

    # -- observation -------------------------------------------------------------------
    def _remember_tree(self) -> None:
        if self._proc is not None:
            for p in tree([self._proc.pid]):
                self._known.setdefault(p.pid, p)

    def worker_pids(self) -> list[int]:
        """SCOOP's worker processes (bootstrap processes other than the origin)."""
        self._remember_tree()
        out = []
        for p in self._known.values():
            try:
                if (
                    p.pid != self._origin_pid
                    and _alive(p)
                    and "scoop.bootstrap" in " ".join(p.cmdline())
                ):
                    out.append(p.pid)
            except psutil.Error:
                continue
        return sorted(out)

    def health(self) -> str | None:
        """SCOOP cannot go on once a worker or its origin died (see _watch_workers)."""
        if self._lost:
            return self._lost
        if self.started and self._proc is not None and self._proc.poll() is not None:
            return "SCOOP's launcher has exited"
        return None

    def origin_pid(self) -> int | None:
        """The SCOOP origin, which runs the bridge (killing it cuts the engine off)."""
        return self._origin_pid

    def process_roots(self) -> list[int]:
        self._remember_tree()
        return [p.pid for p in self._known.values() if _alive(p)]

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.address or "embedded",
            "workers": self.workers,
            "scoop": scoop.__version__,
            "listens_on_all_interfaces": True,  # SCOOP's ZeroMQ broker binds tcp://*
        }

    # -- helpers -------------------------------------------------------------------------
    def _log_path(self) -> str:
        return os.path.join(self._workdir or tempfile.gettempdir(), "scoop.log")

    def _log_tail(self) -> str:
        """The last line SCOOP's launcher wrote ('' without one)."""
        try:
            text = Path(self._log_path()).read_bytes()[-4000:].decode(errors="replace")
        except OSError:
            return ""
        return next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "")


def _suffix(text: str) -> str:
    return f": {text}" if text else ""


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
