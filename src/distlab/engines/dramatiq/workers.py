"""The ``dramatiq`` worker CLI as the dramatiq engine starts it, and the settings its
workers read: here, without importing Dramatiq, so the engine (on one machine) and its
deployment across test hosts (hosts.py) start the same workers."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any


def worker_settings(options: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's options the workers' broker is built with (app.make_broker)."""
    return {
        "threads": options["threads"],
        "heartbeat_timeout_ms": options["heartbeat_timeout_ms"],
        "maintenance_chance": options["maintenance_chance"],
    }


def worker_commands(config: Mapping[str, Any], workers: int) -> list[list[str]]:
    """One ``dramatiq`` CLI with ``workers`` processes serving ``config["queue"]``."""
    return [[sys.executable, "-m", "dramatiq", "distlab.engines.dramatiq.app",
             "--processes", str(workers),
             "--threads", str(config["threads"]),
             "--queues", config["queue"]]]  # fmt: skip
