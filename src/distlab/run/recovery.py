"""After a fault: whether an engine can go on, and restarting it when it cannot.

A fault can take down more than one worker (Flink's mini-cluster is one JVM, SCOOP's
origin, a broker that died with its data). The engine process asks the engine's
``health()`` after a fault and before each cell; an engine that cannot go on is closed
and started again (its start-up timed apart), and if that fails every later cell says
why it could not run.
"""

from __future__ import annotations

import time
from typing import Any

from distlab.contracts import Engine, error_line


def fault_target(record: dict[str, Any]) -> str:
    if record.get("kind") == "broker":
        return f"broker, {record.get('broker')} pid {record.get('killed_pid')},"
    return f"worker pid {record.get('killed_pid')}"


def note_engine_state(engine: Engine, record: dict[str, Any]) -> None:
    """After the fault: whether the engine can go on (run_engine restarts it if not)."""
    try:
        reason = engine.health()
    except Exception as exc:  # a health check must not fail the cell
        reason = f"health check failed: {error_line(exc)}"
    if reason:
        record["engine_broken"] = reason


def restart_engine(engine: Engine, reason: str) -> dict[str, Any]:
    """Close and start ``engine`` again (it said ``reason``); what happened, timed."""
    record: dict[str, Any] = {"reason": reason}
    t0 = time.perf_counter()
    try:
        engine.close()
        engine.start()
    except Exception as exc:
        record["error"] = error_line(exc)
        return record
    record["restart_s"] = round(time.perf_counter() - t0, 3)
    still = engine.health()
    if still:
        record["error"] = f"still cannot go on after a restart: {still}"
    return record


class EngineKeeper:
    """Keeps an engine able to run the next cell: one whose cluster a fault took down (a
    Flink JVM, SCOOP's origin, a broker that died with its data) is closed and started
    again, its start-up timed apart; if that fails, every later cell says why it could
    not run (``dead``) instead of failing one by one for reasons of its own."""

    def __init__(self, engine: Engine):
        self.engine = engine
        #: why no more cell can run on this engine (None: it can)
        self.dead: str | None = None
        self.restarts = 0

    def ensure(self) -> dict[str, Any] | None:
        """Restart the engine if it says it cannot go on; what was done, or None."""
        if self.dead:
            return None
        try:
            reason = self.engine.health()
        except Exception as exc:
            reason = f"its health check failed: {error_line(exc)}"
        if not reason:
            return None
        record = restart_engine(self.engine, reason)
        if "error" in record:
            self.dead = (
                f"{self.engine.name} cannot run more work ({reason}) and restarting it "
                f"failed: {record['error']}"
            )
        else:
            self.restarts += 1
        return record
