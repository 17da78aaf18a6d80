"""What a Redis task queue's worker process reads of its engine: the config the driver put
in its environment, and the driver it must not outlive.

The queue's own worker CLI (``dramatiq``, ``rq worker-pool``, ``huey_consumer``,
``taskiq worker``, ``arq``) imports the engine's app module, which calls ``config()``
at import: the Redis URL, the queue's name and the queue's settings, as JSON in
DISTLAB_QUEUE_CONFIG. Standard library only: imported before the queue's library is.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from typing import Any

CONFIG_ENV = "DISTLAB_QUEUE_CONFIG"
#: the driver's pid: a worker whose driver is gone (even SIGKILLed) shuts down
DRIVER_ENV = "DISTLAB_QUEUE_DRIVER_PID"


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
