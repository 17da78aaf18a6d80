"""``--kill-broker``: the engine's broker SIGKILLed part-way through a cell's first
measured repetition, and restarted when it keeps its data (see distlab.run.faults)."""

from __future__ import annotations

import os
import signal
import time

from distlab.contracts import Engine, first_line
from distlab.run.faults import Fault

#: how long a broker that keeps its data stays dead before distlab restarts it (seconds)
BROKER_OUTAGE_S = 1.0
#: ``not_hit`` of an engine without a broker distlab started (none, or the user's)
NO_BROKER = "no broker of ours to kill"


class BrokerKiller(Fault):
    """SIGKILLs the engine's broker part-way through the run; one that keeps its data
    (Redis with an append-only file) is restarted on the same port BROKER_OUTAGE_S later,
    as a supervisor would."""

    kind = "broker"

    def __init__(self, engine: Engine):
        super().__init__(engine)
        self.broker = engine.broker()
        if self.broker is None:
            why = (
                "it uses the user's server (not ours to kill)"
                if engine.address and engine.needs_server
                else "it uses no broker"
            )
            self.base["error"] = f"{engine.name} has no broker of ours to kill: {why}"
            self.base["not_hit"] = f"{NO_BROKER}: {why}"
        else:
            self.base.update(broker=self.broker.label, keeps_data=self.broker.keeps_data)
        self.record = dict(self.base)

    def _watch(self) -> None:
        broker = self.broker
        if broker is None:
            return
        if self._ended.wait(self.delay):
            self._missed_run("the run finished before the kill was due")
            return
        pid = broker.pid
        if pid is None or not broker.alive():
            self.record["error"] = f"the broker ({broker.label}) was not running"
            return
        in_flight = self._in_flight_at_kill()
        now = time.time()
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError as exc:
            self.record["error"] = f"could not kill the broker {pid}: {exc}"
            return
        self._kill_time = now
        self.record.update(
            killed_pid=pid, at_s=round(now - self._run_started, 3), in_flight=in_flight
        )
        if not broker.keeps_data:
            self.record["restarted"] = False
            self.record["note"] = "the broker keeps no data on disk: distlab does not restart it"
            return
        time.sleep(BROKER_OUTAGE_S)
        t0 = time.time()
        try:
            broker.restart()
        except Exception as exc:
            first = first_line(exc)
            self.record["restarted"] = False
            self.record["restart_error"] = first
            return
        self.record.update(
            restarted=True,
            restarted_pid=broker.pid,
            down_s=round(time.time() - now, 3),
            restart_s=round(time.time() - t0, 3),
        )
