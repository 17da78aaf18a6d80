"""The Celery app shared by the driver and the worker the celery engine starts.

The driver builds its app with ``make_app(config)``; the worker process, started as
``celery -A distlab.engines.celery.app worker``, reads the same config from the
environment variable DISTLAB_CELERY_CONFIG (JSON) when Celery asks for ``app``.

Tasks carry cloudpickled payloads, so lambdas and closures run as they do on Ray or Dask.
Messages and results use the "pickle" serializer: acceptable because the broker is ours
(or the user's own) and only our driver and worker talk through this queue; it is also
what keeps the original exception type on the way back.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import threading
import time
from typing import Any

import cloudpickle
from celery import Celery, signals

from distlab.contracts.errors import call_capturing
from distlab.contracts.tasks import units_environment
from distlab.engines.common import carried

CONFIG_ENV = "DISTLAB_CELERY_CONFIG"
#: the resource a resource worker's pool children hold, one unit each (e.g. "GPU")
UNIT_ENV = "DISTLAB_CELERY_RESOURCE"
#: the driver's pid: the worker shuts down when the driver is gone (even if SIGKILLed)
DRIVER_ENV = "DISTLAB_CELERY_DRIVER_PID"
RUN_TASK = "distlab.run"
RUN_CHUNK_TASK = "distlab.run_chunk"
PID_TASK = "distlab.pid"
#: a plain registered task, called through Celery's own API by `distlab bench tiny-tasks`
NOOP_TASK = "distlab.noop"


class CarriedException(Exception):
    """A task's exception that plain pickle cannot send (its class came by value, defined
    in the caller's ``__main__``), carried as cloudpickle bytes. Celery's result backend
    would otherwise store the nearest picklable base class in its place (a ValueError for
    ``class MyError(ValueError)``). cloudpickle, the same one that sent the task's function,
    brings it back as the caller's own class (it tracks such classes by id); the driver
    unwraps it (results.py). args: (the bytes, the class's name, its message), the last two
    so that Celery's own tools still show what failed."""

    def __init__(self, blob: bytes, type_name: str, message: str):
        super().__init__(blob, type_name, message)

    def __str__(self) -> str:
        return f"{self.args[1]}: {self.args[2]}"

    def original(self) -> BaseException:
        return cloudpickle.loads(self.args[0])


class CarriedValue:
    """A task's result that plain pickle cannot send (an instance of a class that came by
    value from the caller's ``__main__``), carried as cloudpickle bytes for the same
    reason as CarriedException; the driver unwraps it (results.py)."""

    def __init__(self, blob: bytes):
        self.blob = blob

    def original(self) -> Any:
        return cloudpickle.loads(self.blob)


def _from_main(value: Any, depth: int = 2) -> bool:
    """Whether ``value`` (or an item of it, two levels down, the first 1,000 of each) is
    an instance of a class defined in ``__main__``: the standard pickler sends such a
    class by name, which the caller's __main__ may have but this worker's has not. Cheap
    on purpose: a large array or frame is judged by its type alone, never pickled."""
    if type(value).__module__ == "__main__":
        return True
    if depth == 0:
        return False
    if isinstance(value, dict):
        items = list(value.items())[:1000]
        return any(_from_main(k, depth - 1) or _from_main(v, depth - 1) for k, v in items)
    if isinstance(value, list | tuple | set | frozenset):
        return any(_from_main(v, depth - 1) for v in list(value)[:1000])
    return False


def _carried(value: Any) -> Any:
    return CarriedValue(cloudpickle.dumps(value)) if _from_main(value) else value


def _call(fn: Any, args: tuple, kwargs: dict) -> Any:
    """``call_capturing`` on a worker; an exception plain pickle cannot send is raised as
    a CarriedException (Celery's own handling for every other exception)."""
    try:
        return call_capturing(fn, args, kwargs)
    except Exception as exc:
        try:
            pickle.dumps(exc)
        except Exception:
            try:
                blob = cloudpickle.dumps(exc)
            except Exception:  # not even cloudpickle can: Celery's fallback stands
                raise exc from None
            name = f"{type(exc).__module__}.{type(exc).__qualname__}"
            # chained, so the worker's log and Celery's stored traceback show the original
            raise CarriedException(blob, name, str(exc)) from exc
        raise


def make_app(config: dict[str, Any]) -> Celery:
    """A Celery app for one engine instance: broker, result backend and its own queue."""
    app = Celery("distlab", broker=config["broker"], backend=config["backend"],
                 set_as_current=False)  # fmt: skip
    acks_late = config.get("acks_late", True)
    app.conf.update(
        task_serializer="pickle",
        result_serializer="pickle",
        accept_content=["pickle", "json"],
        task_default_queue=config["queue"],
        # acks_late (distlab's default): a task whose pool child dies is requeued, not
        # lost; without it (Celery's default) the task is acknowledged when received
        task_acks_late=acks_late,
        task_reject_on_worker_lost=acks_late,
        worker_prefetch_multiplier=config["prefetch_multiplier"],
        # Unacked messages of a worker that died as a whole come back after the
        # visibility timeout; the restore scan runs every second (kombu Redis transport).
        broker_transport_options={
            "visibility_timeout": config["visibility_timeout"],
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        result_expires=3600,
        worker_hijack_root_logger=True,
        worker_redirect_stdouts=False,
    )

    @app.task(name=RUN_TASK, shared=False, acks_late=acks_late, reject_on_worker_lost=acks_late)
    def run(payload: bytes) -> Any:
        fn, args, kwargs = cloudpickle.loads(payload)
        return _carried(_call(fn, args, kwargs))

    @app.task(
        name=RUN_CHUNK_TASK, shared=False, acks_late=acks_late, reject_on_worker_lost=acks_late
    )
    def run_chunk(fn_blob: bytes, items_blob: bytes) -> list[Any]:
        fn = cloudpickle.loads(fn_blob)
        return _carried([_call(fn, (item,), {}) for item in cloudpickle.loads(items_blob)])

    @app.task(name=PID_TASK, shared=False)
    def pid() -> int:
        return os.getpid()

    @app.task(name=NOOP_TASK, shared=False)
    def noop(x: Any = None, work_ms: float = 0.0) -> Any:
        return carried.noop(x, work_ms)

    return app


@signals.worker_process_init.connect
def _own_unit(**_: Any) -> None:
    """Give pool child i unit i of a resource worker's resource, published as every
    engine publishes a task's grant (DISTLAB_RESOURCE_UNITS; for GPUs also
    CUDA_VISIBLE_DEVICES=i): every task the child runs holds that one unit.

    billiard numbers its children 0..concurrency-1 and a replacement child takes over the
    index of the one it replaces, so each unit is held by exactly one child.
    """
    resource = os.environ.get(UNIT_ENV)
    if resource:
        from billiard.process import current_process

        index = getattr(current_process(), "index", 0)
        os.environ.update(units_environment({resource: [index]}))


@signals.worker_init.connect
def _exit_with_driver(**_: Any) -> None:
    """Warm-shut the worker down once its driver dies, so no worker outlives a killed
    driver (close() and the exit hooks cannot run then). Runs in the main process only."""
    driver = int(os.environ.get(DRIVER_ENV) or 0)
    if not driver:
        return

    def watch() -> None:
        while os.getppid() == driver:  # an orphan is re-parented to init or a subreaper
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="distlab-driver-watch", daemon=True).start()


_worker_app: Celery | None = None


def __getattr__(name: str) -> Any:
    # `celery -A distlab.engines.celery.app` looks up `app`: built on demand so that the
    # driver importing this module creates no app and needs no environment variable.
    global _worker_app
    if name == "app":
        if _worker_app is None:
            _worker_app = make_app(json.loads(os.environ[CONFIG_ENV]))
        return _worker_app
    raise AttributeError(name)
