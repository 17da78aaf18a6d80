"""Process trees, memory, ports: what the engines and the tests share (psutil-based).

Everything here works by PID: nothing is ever found or stopped by name.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence

import psutil


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Wait until host:port accepts connections; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port, 0.2):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"process exited with code {proc.returncode} before {host}:{port} opened"
            )
        time.sleep(0.02)
    raise TimeoutError(f"{host}:{port} did not open within {timeout:.0f}s")


def split_host_port(address: str, default_port: int | None = None) -> tuple[str, int]:
    """'tcp://h:p', 'redis://h:p/0', 'h:p' -> (h, p)."""
    rest = address.split("://", 1)[-1]
    rest = rest.rsplit("@", 1)[-1].split("/", 1)[0].split(",", 1)[0]
    host, _, port = rest.rpartition(":")
    if not host:
        host, port = rest, ""
    if not port:
        if default_port is None:
            raise ValueError(f"no port in address {address!r}")
        return host, default_port
    return host.strip("[]"), int(port)


def tree(roots: Iterable[int]) -> list[psutil.Process]:
    """The live processes of the trees rooted at ``roots`` (roots included). A zombie is
    not live: it has exited and waits only for its parent (or init, for an orphan) to
    reap it, which nothing here can hasten; waiting for it cost ~1.5 s per engine
    process here, whose pool workers were orphaned zombies when it ended."""
    seen: dict[int, psutil.Process] = {}
    for pid in roots:
        try:
            p = psutil.Process(pid)
            if _live(p):
                seen.setdefault(p.pid, p)
            for c in p.children(recursive=True):
                if _live(c):
                    seen.setdefault(c.pid, c)
        except psutil.Error:
            continue
    return list(seen.values())


def _live(p: psutil.Process) -> bool:
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def rss_mb(procs: Iterable[psutil.Process]) -> float:
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def listening_ports(pids: Iterable[int]) -> set[tuple[str, int]]:
    wanted = set(pids)
    out = set()
    for c in psutil.net_connections(kind="inet"):
        if c.pid in wanted and c.status == psutil.CONN_LISTEN and c.laddr:
            out.add((c.laddr.ip, c.laddr.port))
    return out


def stop_pids(pids: Sequence[int], grace: float = 5.0) -> None:
    """Terminate these processes and their descendants, then kill what remains."""
    procs = tree(pids)
    for p in procs:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=grace)


def pss_mb(procs: Iterable[psutil.Process]) -> float:
    """Memory of a set of processes without double counting: the sum of their PSS
    (proportional set size: each shared page divided among the processes sharing it).
    Falls back to RSS for a process whose PSS cannot be read."""
    total = 0
    for p in procs:
        try:
            total += p.memory_full_info().pss
        except (psutil.Error, AttributeError):
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
    return total / 2**20


class PeakMemory:
    """Samples the summed PSS of process trees in a thread; ``peak_mb`` is the maximum.

    The trees are the driver's own (``os.getpid()``) plus whatever ``roots()`` returns,
    re-read every TREE_EVERY_S so workers that start or restart are counted.

    A sample is not free: with a JVM in the tree the kernel walks ~1 GB of its pages to
    compute PSS, 10-15 ms of CPU per sample here. At one sample per 50 ms that took a
    quarter of a core (and the driver's GIL) from the engines being measured on a
    2-core machine, enough to make a paced sender miss its schedule; hence 0.2 s, and
    a sample at the start and at the end of every cell whatever its length.
    """

    #: how often the process trees are listed again
    TREE_EVERY_S = 1.0

    def __init__(self, roots=lambda: [], interval: float = 0.2):
        self._roots = roots
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._procs: list[psutil.Process] = []
        self._listed = float("-inf")

    def sample(self, relist: bool = False) -> float:
        if relist or time.monotonic() - self._listed > self.TREE_EVERY_S:
            self._procs = tree([os.getpid(), *self._roots()])
            self._listed = time.monotonic()
        now = pss_mb(self._procs)
        self.peak_mb = max(self.peak_mb, now)
        return now

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception:  # a process vanishing mid-sample is normal
                pass

    def __enter__(self) -> PeakMemory:
        self.peak_mb = 0.0
        self.sample(relist=True)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="distlab-mem", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.sample(relist=True)


def folder_bytes(folder: str) -> int:
    """The bytes of the files under ``folder`` now (0 when it is gone)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:  # a file removed while we look (a spill file, done with)
                pass
    return total
