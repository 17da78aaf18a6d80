"""What a Redis task queue's worker process reads of its engine: the config the driver put
in its environment (``worker_environment``, on the driver's side), and the driver it must
not outlive.

The queue's own worker CLI (``dramatiq``, ``rq worker-pool``, ``huey_consumer``,
``taskiq worker``, ``arq``) imports the engine's app module, which calls ``config()``
at import: the Redis URL, the queue's name and the queue's settings, as JSON in
DISTLAB_QUEUE_CONFIG. Standard library only: imported before the queue's library is.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from typing import Any

CONFIG_ENV = "DISTLAB_QUEUE_CONFIG"
#: the driver's pid: a worker whose driver is gone (even SIGKILLed) shuts down
DRIVER_ENV = "DISTLAB_QUEUE_DRIVER_PID"


def user_import_path() -> str:
    """The driver's own import path entries (not the interpreter's), for the workers, so
    functions from the user's modules resolve there as they do in the driver."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    extra = [
        p for p in sys.path
        if p and os.path.isdir(p) and not any(p.startswith(pre) for pre in prefixes)
    ]  # fmt: skip
    current = os.environ.get("PYTHONPATH")
    return os.pathsep.join([*extra, *([current] if current else [])])


def worker_environment(settings: dict[str, Any]) -> dict[str, str]:
    """A worker CLI's environment: the engine's config, the user's import path."""
    env = dict(os.environ)
    env[CONFIG_ENV] = json.dumps(settings)
    env["PYTHONPATH"] = user_import_path()
    env["PYTHONUNBUFFERED"] = "1"
    return env


def config() -> dict[str, Any]:
    """The worker's config; a clear error when the CLI was started without one."""
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise RuntimeError(f"{CONFIG_ENV} is not set: start this queue's workers through distlab")
    return json.loads(text)


def exit_with_driver() -> None:
    """In the worker CLI's main process: SIGTERM itself (the queue's own graceful stop,
    which stops its children) once the driver that started it has exited."""
    driver = int(os.environ.get(DRIVER_ENV) or 0)
    if not driver or os.getppid() != driver:
        return  # started by hand, or a child of the CLI: its parent handles it

    def watch() -> None:
        while os.getppid() == driver:  # an orphan is re-parented to init or a subreaper
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="distlab-driver-watch", daemon=True).start()
