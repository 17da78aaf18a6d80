"""Celery across the test hosts: Redis (broker and result backend) on the server host,
one ``celery worker`` (prefork pool) per worker host serving one queue; the driver's
engine on h0 connects to that Redis and starts no worker of its own (the engine's option
``queue``)."""

from __future__ import annotations

from distlab.engines.celery.plugin import PREFETCH_MULTIPLIER, VISIBILITY_TIMEOUT_S
from distlab.engines.celery.workers import worker_command, worker_environment
from distlab.engines.common.queue_hosts import PORT, start_redis
from distlab.hosts.deploy import Deployment, build
from distlab.hosts.netns import TestHosts

QUEUE = "distlab-hosts"


def deploy(hosts: TestHosts, workers: int, gpus: int = 0) -> Deployment:
    return build("celery", hosts, workers, _start, gpus=gpus)


def _config(broker: str) -> dict:
    return {
        "broker": broker,
        "backend": broker,
        "queue": QUEUE,
        "visibility_timeout": VISIBILITY_TIMEOUT_S,
        "prefetch_multiplier": PREFETCH_MULTIPLIER,
    }


def _start(dep: Deployment, hosts: TestHosts, workers: int) -> None:
    server = dep.server
    start_redis(dep)
    dep.address = "redis://" + dep.via(dep.driver, server, PORT, "driver -> broker") + "/0"
    dep.options = {"queue": QUEUE}
    nodes = dep.spread(workers)
    for i, (host, count) in enumerate(nodes, start=1):
        # each worker host reaches Redis through its own proxy when delayed
        broker = "redis://" + dep.via(host, server, PORT, "workers -> broker") + "/0"
        command = worker_command(QUEUE, count, f"{QUEUE}-{i}@%h")  # one host name for all
        dep.start(f"workers {i}", host, command, env=worker_environment(_config(broker)))
        if dep.gpus and i == 1:
            # the GPU units: a worker on the queue's GPU queue, pool child k holding unit k
            gpu = worker_command(f"{QUEUE}.GPU", dep.gpus, f"{QUEUE}-gpu@%h")
            dep.start("gpu workers", host, gpu, env=worker_environment(_config(broker), "GPU"))
    # every worker node answers a ping (Celery's remote control) before the first figure
    dep.run_on_driver(
        "import time\n"
        "from distlab.engines.celery.app import make_app\n"
        f"app = make_app({_config(dep.address)!r})\n"
        "end = time.time() + 90\n"
        f"while len(app.control.ping(timeout=1.0) or []) < {len(nodes) + bool(dep.gpus)}:\n"
        "    if time.time() > end:\n"
        "        raise SystemExit('not every celery worker answered a ping in 90 s')\n",
        timeout=120,
    )
