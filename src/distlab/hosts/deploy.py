"""An engine deployed across the test hosts by its own multi-node tooling: what runs
where, the address its driver connects to, and how it is taken down.

The layout is the same for every engine: the driver (the engine process distlab runs
its cells in) on h0, the engine's server (scheduler, head, broker) on h1, its workers
spread over the remaining hosts (h1 as well when there are only two hosts). Each
engine's deploy function lives in distlab.engines.<engine>.hosts and is named by the
engine's plugin (``EnginePlugin.deploy``); it starts processes with :meth:`Deployment.start` and waits
until its workers have joined, so the driver's first figure is not a join in progress.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from distlab.contracts import DistlabError
from distlab.hosts.netns import Host, TestHosts, namespace_pids
from distlab.procs import stop_pids


@dataclass
class Deployment:
    engine: str
    hosts: TestHosts
    #: what the driver passes as --address
    address: str = ""
    #: engine options the driver's engine needs for this deployment (e.g. Celery's queue)
    options: dict[str, Any] = field(default_factory=dict)
    #: workload -> parameters its cells need here (e.g. the stream's broker)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: role -> host name, e.g. {"scheduler": "h1", "worker 1": "h2"}
    placement: dict[str, str] = field(default_factory=dict)
    #: link -> what carries its delay ("netem", "proxy", or why nothing can)
    links: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen] = field(default_factory=list)
    #: directories the deployment made, removed when it stops (with its logdir)
    scratch: list[str] = field(default_factory=list)
    #: logical GPU units the deployment declares, all on the first worker host (units
    #: are numbered per host, and the test hosts share one host name)
    gpus: int = 0
    #: host name -> the toxiproxy server running there (delay without netem)
    toxiproxies: dict[str, Any] = field(default_factory=dict)
    logdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="distlab-hosts-")))

    @property
    def driver(self) -> Host:
        return self.hosts.hosts[0]

    @property
    def server(self) -> Host:
        return self.hosts.hosts[1]

    @property
    def worker_hosts(self) -> list[Host]:
        return self.hosts.hosts[2:] or [self.server]

    def spread(self, workers: int) -> list[tuple[Host, int]]:
        """``workers`` spread round-robin over the worker hosts: (host, count) pairs."""
        counts = [0] * len(self.worker_hosts)
        for i in range(workers):
            counts[i % len(counts)] += 1
        return [(h, c) for h, c in zip(self.worker_hosts, counts, strict=True) if c]

    def start(self, role: str, host: Host, argv: list[str], env: dict | None = None) -> None:
        """Start ``argv`` on ``host`` (its log in the deployment's log directory)."""
        log = open(self.logdir / f"{role.replace(' ', '-')}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            host.command(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        log.close()
        self.procs.append(proc)
        self.placement[role] = host.name

    @contextlib.contextmanager
    def undone_on_failure(self) -> Iterator[Deployment]:
        """Inside, a deploy function starts things; if it fails, all of it is stopped."""
        try:
            yield self
        except BaseException:
            self.stop()
            raise

    def check_alive(self) -> None:
        for role, proc in zip(self.placement, self.procs, strict=False):
            if proc.poll() is not None:
                raise DistlabError(
                    f"{self.engine} on the test hosts: {role} exited with {proc.returncode} "
                    f"({self.log_tail(role)})"
                )

    def log_tail(self, role: str) -> str:
        try:
            lines = (self.logdir / f"{role.replace(' ', '-')}.log").read_text().splitlines()
        except OSError:
            return "no log"
        return next((ln.strip() for ln in reversed(lines) if ln.strip()), "empty log")

    def run_on_driver(self, code: str, timeout: float) -> str:
        """Run Python ``code`` on the driver's host (e.g. a readiness check) and return
        its output; one line on failure."""
        res = subprocess.run(
            self.driver.command([sys.executable, "-c", code]),
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if res.returncode != 0:
            last = (res.stderr.strip().splitlines() or ["?"])[-1]
            raise DistlabError(f"{self.engine} on the test hosts did not come up: {last}")
        return res.stdout

    def via(self, client: Host, server: Host, port: int, link: str, listen: int = 0) -> str:
        """The address a client on ``client`` uses to reach ``server:port``: the server
        itself, or, when a delay is asked (or ``proxied``: a 0 ms baseline) and the kernel
        has no netem, a Toxiproxy on the client's host that adds it (the link recorded in
        ``links`` either way)."""
        upstream = f"{server.address}:{port}"
        if not (self.hosts.rtt_ms or self.hosts.proxied) or self.hosts.netem:
            self.links[link] = carried(self.hosts)
            return upstream
        from distlab.hosts import toxiproxy

        tp = self.toxiproxies.get(client.name)
        if tp is None:
            tp = self.toxiproxies[client.name] = toxiproxy.start(client, self.logdir)
            self.procs.append(tp.proc)
            self.placement[f"toxiproxy {client.name}"] = client.name
        # the client's own loopback (no clash across hosts), unless the caller picks it
        listen = listen or 20000 + port % 10000
        address = tp.proxy(f"{link}-{port}".replace(" ", "_"), listen, upstream, self.hosts.rtt_ms)
        self.links[link] = f"Toxiproxy on {client.name} ({self.hosts.rtt_ms:g} ms round trip)"
        return address

    def stop(self) -> None:
        """Stop every process of this deployment, and anything they left inside the
        worker and server hosts' namespaces, by PID."""
        pids = [p.pid for p in self.procs]
        for p in self.procs:  # e.g. what an sshd on the driver's host started
            with contextlib.suppress(psutil.Error):
                pids += [c.pid for c in psutil.Process(p.pid).children(recursive=True)]
        for h in self.hosts.hosts[1:]:
            pids += namespace_pids(h.netns)
        stop_pids(sorted(set(pids)), grace=5.0)
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        for path in [*self.scratch, self.logdir]:  # its logs too: a failure quoted them
            shutil.rmtree(path, ignore_errors=True)

    def record(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "placement": self.placement,
            "links": self.links,
            "hosts": {h.name: h.address for h in self.hosts.hosts},
        }


def build(
    engine: str,
    hosts: TestHosts,
    workers: int,
    start: Callable[[Deployment, TestHosts, int], None],
    gpus: int = 0,
) -> Deployment:
    """The deployment of ``engine`` that ``start(dep, hosts, workers)`` brings up (with
    ``gpus`` logical GPU units, for an engine that schedules by resources); if it fails,
    all it started is stopped."""
    dep = Deployment(engine, hosts, gpus=gpus)
    with dep.undone_on_failure():
        start(dep, hosts, workers)
    return dep


def wait_for_port(dep: Deployment, host: Host, port: int, timeout: float = 60.0) -> None:
    """Until ``host:port`` accepts a connection from the driver's host; a server of the
    deployment that exits meanwhile says why at once."""
    code = (
        "import socket, time, sys\n"
        "end = time.time() + 2\n"
        "while time.time() < end:\n"
        "    try:\n"
        f"        socket.create_connection(({host.address!r}, {port}), timeout=1).close()\n"
        "        sys.exit(0)\n"
        "    except OSError:\n"
        "        time.sleep(0.2)\n"
        "sys.exit(1)\n"
    )
    deadline = time.monotonic() + timeout
    while True:
        res = subprocess.run(dep.driver.command([sys.executable, "-c", code]),
                             capture_output=True, timeout=30)  # fmt: skip
        if res.returncode == 0:
            return
        dep.check_alive()
        if time.monotonic() > deadline:
            raise DistlabError(
                f"{dep.engine} on the test hosts did not come up: nothing answers on "
                f"{host.address}:{port} after {timeout:g} s"
            )


def wait_for_json(
    dep: Deployment, urls: dict[str, str], condition: str, what: str, timeout: float = 90.0
) -> None:
    """Until ``condition`` (a Python expression over the JSON documents at ``urls``, each
    bound to its name) holds, asked from the driver's host: e.g. every worker registered
    with its master. Fails saying ``what`` did not happen."""
    fetch = "".join(
        f"        {name} = json.load(urllib.request.urlopen({url!r}, timeout=2))\n"
        for name, url in urls.items()
    )
    dep.run_on_driver(
        "import json, time, urllib.request\n"
        f"end = time.time() + {timeout}\n"
        "while True:\n"
        "    try:\n"
        f"{fetch}"
        f"        if {condition}:\n"
        "            break\n"
        "    except (OSError, KeyError, IndexError, ValueError):\n"
        "        pass\n"
        "    if time.time() > end:\n"
        f"        raise SystemExit('not {what} in {timeout:g} s')\n"
        "    time.sleep(0.5)\n",
        timeout=timeout + 30,
    )


def carried(hosts: TestHosts, peer_to_peer: bool = False) -> str:
    """What carries a link's delay: netem on every link where the kernel has it; else
    nothing yet (a proxy can only sit on client -> server links, never on peer-to-peer
    ones such as object transfers)."""
    if not (hosts.rtt_ms or hosts.loss_pct):
        return "no delay asked"
    if hosts.netem:
        return "netem on the link"
    if peer_to_peer:
        return "not delayed: no netem here, and no proxy can sit on peer-to-peer links"
    return "not delayed: no netem here, and distlab puts no proxy on this link"
