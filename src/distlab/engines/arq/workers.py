"""The ``arq`` worker CLI as the arq engine starts it, and the settings its workers read:
here, without importing arq, so the engine (on one machine) and its deployment across
test hosts (hosts.py) start the same workers."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def worker_settings(options: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's options the workers' settings are built with (app.worker_settings)."""
    return {
        "job_timeout": options["job_timeout"],
        "max_tries": options["max_tries"],
        "max_jobs": options["max_jobs"],
    }


def worker_commands(config: Mapping[str, Any], workers: int) -> list[list[str]]:
    """``workers`` ``arq`` processes: arq's CLI runs one worker each."""
    script = str(Path(sys.executable).parent / "arq")
    return [[script, "distlab.engines.arq.app.WorkerSettings"] for _ in range(workers)]
