"""The ``taskiq worker`` CLI as the taskiq engine starts it, and the settings its workers
read: here, without importing Taskiq, so the engine (on one machine) and its deployment
across test hosts (hosts.py) start the same workers."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def worker_settings(options: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's options the workers' broker is built with (app.make_broker)."""
    return {"broker": options["broker"], "idle_timeout_ms": options["idle_timeout_ms"]}


def worker_commands(config: Mapping[str, Any], workers: int) -> list[list[str]]:
    """One ``taskiq worker`` with ``workers`` processes, one task at a time each;
    acknowledged once executed with ``broker=stream``."""
    script = Path(sys.executable).parent / "taskiq"
    command = [str(script), "worker", "distlab.engines.taskiq.app:broker",
               "--workers", str(workers), "--max-async-tasks", "1",
               "--log-level", "WARNING"]  # fmt: skip
    if config["broker"] == "stream":
        command += ["--ack-type", "when_executed"]
    return [command]
