"""A Redis task queue (Dramatiq, RQ, Huey, Taskiq, arq) across the test hosts, as
engines/celery/hosts.py deploys Celery: Redis on the server host, the queue's own worker
CLI on each worker host serving one queue, the driver's engine on h0 given that queue
(option ``queue``) so it starts no worker of its own and waits for a probe task instead
(distlab.engines.common.queue_engine).

The five deployments differ only in the worker command and the settings the workers read
(each queue's ``workers.py``); everything else is here, so the queues stay deployed alike.
Nothing here imports a queue's library: the workers do, on their hosts.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from typing import Any

from distlab.contracts import DistlabError
from distlab.contracts.plugin import EnginePlugin
from distlab.engines.common.queue_config import worker_environment
from distlab.hosts.deploy import Deployment, build, wait_for_port
from distlab.hosts.netns import TestHosts
from distlab.services.redis_server import find_redis_server

PORT = 6379
QUEUE = "distlab-hosts"
#: seconds every worker host has to connect to Redis and a probe task to come back
READY_TIMEOUT_S = 90.0

#: (the workers' config, task processes on one host) -> the worker CLI commands to start
WorkerCommands = Callable[[Mapping[str, Any], int], list[list[str]]]


def option_defaults(plugin: EnginePlugin) -> dict[str, Any]:
    """The engine's options at their defaults: the deployment's workers are started with
    them (the deploy function is given no options), as the driver's engine is unless the
    run sets some."""
    return plugin.read_options({})


def deploy_queue(
    plugin: EnginePlugin,
    hosts: TestHosts,
    workers: int,
    commands: WorkerCommands,
    settings: Mapping[str, Any],
    gpus: int = 0,
) -> Deployment:
    """``plugin``'s queue across ``hosts``: ``workers`` task processes spread over the
    worker hosts, each host running ``commands(config, count)`` with ``config`` the
    Redis URL as that host reaches it, the queue and ``settings``."""
    if gpus:
        raise DistlabError(f"{plugin.name} does not schedule by resources: no GPU units")

    def start(dep: Deployment, hosts: TestHosts, workers: int) -> None:
        _start(dep, plugin, workers, commands, settings)

    return build(plugin.name, hosts, workers, start)


def start_redis(dep: Deployment) -> None:
    """Redis on the server host, bound to its address, keeping nothing on disk; until it
    accepts connections from the driver's host."""
    server = dep.server
    workdir = tempfile.mkdtemp(prefix="distlab-hosts-redis-")
    dep.scratch.append(workdir)
    redis = [find_redis_server(), "--port", str(PORT), "--bind", server.address,
             "--save", "", "--appendonly", "no", "--dir", workdir, "--daemonize", "no"]  # fmt: skip
    dep.start("redis", server, redis)
    wait_for_port(dep, server, PORT)


def _start(
    dep: Deployment,
    plugin: EnginePlugin,
    workers: int,
    commands: WorkerCommands,
    settings: Mapping[str, Any],
) -> None:
    start_redis(dep)
    server = dep.server
    dep.address = "redis://" + dep.via(dep.driver, server, PORT, "driver -> broker") + "/0"
    dep.options = {"queue": QUEUE}
    nodes = dep.spread(workers)
    for i, (host, count) in enumerate(nodes, start=1):
        # each worker host reaches Redis through its own proxy when delayed
        url = "redis://" + dep.via(host, server, PORT, "workers -> broker") + "/0"
        config = {"url": url, "queue": QUEUE, **settings}
        argvs = commands(config, count)
        for j, argv in enumerate(argvs, start=1):
            role = f"workers {i}" if len(argvs) == 1 else f"workers {i}.{j}"
            dep.start(role, host, argv, env=worker_environment(config))
    _wait_ready(dep, plugin, [host.address for host, _ in nodes])


def _wait_ready(dep: Deployment, plugin: EnginePlugin, worker_addresses: list[str]) -> None:
    """Until every worker host holds a connection to Redis and a probe task sent by the
    driver's engine (given the deployment's queue, as the run gives it) came back: the
    first figure is not a worker still starting. A worker that exited says why."""
    module, cls = plugin.engine.split(":")
    try:
        dep.run_on_driver(
            "import time\n"
            "import redis\n"
            f"from {module} import {cls}\n"
            f"client = redis.Redis.from_url({dep.address!r})\n"
            f"end = time.time() + {READY_TIMEOUT_S}\n"
            f"while not set({worker_addresses!r}) <= "
            "{c['addr'].rsplit(':', 1)[0] for c in client.client_list()}:\n"
            "    if time.time() > end:\n"
            f"        raise SystemExit('not every worker host connected to Redis in "
            f"{READY_TIMEOUT_S:g} s')\n"
            "    time.sleep(0.2)\n"
            "client.close()\n"
            f"engine = {cls}(address={dep.address!r}, **{dep.options!r}).start()\n"
            "engine.close()\n",
            timeout=2 * READY_TIMEOUT_S + 30,
        )
    except DistlabError:
        dep.check_alive()  # a worker CLI that exited: its own words
        raise
