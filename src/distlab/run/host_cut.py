"""``--cut-host``: a partition as a fault. Part-way through a cell's first measured
repetition, the last worker host of the test hosts (distlab.hosts.netns) goes off the
network: its link is set down inside its namespace, so its packets go nowhere and no
connection is reset, as when a cable is pulled or a switch port dies. ``CUT_S`` seconds
later the link comes back up. The record says which host, when, for how long, whether
the run was in flight, what the engine said meanwhile (``health()``), and, from the task
log, what was lost, re-run and duplicated, and how long the run took once the host was
back.

A deployment with more worker hosts than workers leaves the last hosts empty
(distlab.hosts.deploy ``spread``): a host that runs none of the deployment's processes
is not cut, since nothing of the run could depend on it, and the record says so
(``not_hit``). On a worker host, the deployment's processes are its workers and what
serves them (an sshd, a proxy), so any process there means work that can be cut off.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

import psutil

from distlab.contracts import Engine
from distlab.hosts.netns import Host, TestHosts
from distlab.run.faults import Fault, _round

#: how long the host stays off the network: longer than Kafka's group session timeout
#: (3 s), so that a consumer group notices the members it lost
CUT_S = 5.0
#: ``not_hit`` of a cut host that runs none of the deployment's processes
NO_WORKER = "no worker on the cut host"


def processes_on(host: Host) -> list[str] | None:
    """The names of the processes running inside ``host``'s network namespace (None:
    they could not be listed)."""
    try:
        res = subprocess.run(["ip", "netns", "pids", host.netns],
                             capture_output=True, text=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    if res.returncode != 0:
        return None
    names = []
    for pid in res.stdout.split():
        try:
            names.append(psutil.Process(int(pid)).name())
        except (psutil.Error, ValueError):
            continue  # gone since it was listed
    return names


class HostCut(Fault):
    kind = "host cut"

    def __init__(self, engine: Engine):
        super().__init__(engine)
        hosts = TestHosts.load()
        self.host: Host | None = None
        self._restored: float | None = None
        if hosts is None or len(hosts.hosts) < 3:
            self.base["error"] = (
                "no worker host to cut: --cut-host needs the test hosts of --hosts (3 or more)"
            )
            self.base["not_hit"] = "no worker host to cut"
        else:
            host = hosts.hosts[-1]
            self.base.update(host=host.name, address=host.address, cut_s=CUT_S)
            running = processes_on(host)
            if running is not None:
                self.base["host_processes"] = sorted(set(running))[:10]
                self.base["host_runs_workers"] = bool(running)
            if running == []:
                self.base["error"] = (
                    f"{host.name} runs none of the deployment's processes (more worker hosts "
                    f"than workers): nothing was cut"
                )
                self.base["not_hit"] = f"{NO_WORKER} ({host.name})"
            else:
                self.host = host
        self.record = dict(self.base)

    def _link(self, state: str) -> None:
        assert self.host is not None
        subprocess.run(
            self.host.command(["ip", "link", "set", "eth0", state]),
            check=True, capture_output=True, timeout=10,
        )  # fmt: skip

    def _watch(self) -> None:
        if self.host is None:
            return
        if self._ended.wait(self.delay):
            self._missed_run("the run finished before the cut was due")
            return
        in_flight = self._in_flight_at_kill()
        now = time.time()
        try:
            self._link("down")
        except (subprocess.SubprocessError, OSError) as exc:
            self.record["error"] = f"could not take {self.host.name} off the network: {exc}"
            return
        self._kill_time = now
        self.record.update(at_s=round(now - self._run_started, 3), in_flight=in_flight)
        try:
            self._ended.wait(CUT_S * 0.8)
            # what the engine says while the host is away (None: no complaint)
            self.record["engine_said_during_cut"] = self.engine.health()
            remaining = CUT_S - (time.time() - now)
            if remaining > 0:
                time.sleep(remaining)
        finally:
            self._link("up")  # always back, whatever happened meanwhile
            self._restored = time.time()
            self.record["down_s"] = round(self._restored - now, 3)

    def _finish(self, lost: int | None) -> None:
        super()._finish(lost)
        rec: dict[str, Any] = self.record
        if self._restored is not None and self._run_ended is not None:
            # how long the run still took once the host was back (0: it ended during the cut)
            rec["after_restore_s"] = _round(max(0.0, self._run_ended - self._restored))
        if "at_s" in rec:
            # noticed: it said so, or it sent the cut host's tasks to another worker
            rerun = bool(rec.get("duplicated"))
            rec["engine_noticed"] = rerun or rec.get("engine_said_during_cut") is not None
