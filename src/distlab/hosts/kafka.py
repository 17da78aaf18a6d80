"""Kafka across the test hosts: one Apache Kafka broker (KRaft, broker and controller in
one JVM) on the server host, listening on that host's address; the tasks and results
topics made from the driver's host; one worker process (distlab.engines.kafka.worker) per
worker slot on the worker hosts, all in one consumer group. The driver's engine on h0 uses
them with its option ``group``: it starts no worker and makes no topic of its own.

Without netem no delay sits on Kafka's links: a client uses the bootstrap address only
for its first metadata request and then connects to the address the broker advertises,
past any proxy in front of it (a proxy per client host would need a listener of its own
on the broker, advertising that proxy)."""

from __future__ import annotations

import os
import sys

from distlab.engines.kafka.worker import worker_command
from distlab.hosts.deploy import Deployment, build, carried, wait_for_port
from distlab.hosts.netns import TestHosts
from distlab.services.kafka.broker import KafkaBroker
from distlab.services.kafka.clients import FETCH_WAIT_MS

PORT = 9092
CONTROLLER_PORT = 9093
#: the engine's option ``group``: topics GROUP-tasks and GROUP-results, group GROUP-workers
GROUP = "distlab-hosts"
#: the embedded engine's defaults, which the workers and the driver's engine share
SESSION_TIMEOUT_MS = 3000
MAX_MESSAGE_BYTES = 64 << 20
NOT_DELAYED = (
    "not delayed: no netem here, and a proxy cannot stay in the path (Kafka clients "
    "connect to the broker's advertised address after bootstrap)"
)


def deploy(hosts: TestHosts, workers: int) -> Deployment:
    return build("kafka", hosts, workers, _start)


def _start(dep: Deployment, hosts: TestHosts, workers: int) -> None:
    server = dep.server
    broker = KafkaBroker(port=PORT, host=server.address)
    broker.controller_port = CONTROLLER_PORT
    props = broker.prepare()  # its storage formatted here; the JVM runs on the server host
    dep.scratch.append(str(broker.directory))
    dep.start("broker", server, broker.launch_command(props))
    wait_for_port(dep, server, PORT)
    bootstrap = f"{server.address}:{PORT}"
    partitions = 2 * workers  # as the embedded engine: two task partitions per worker
    dep.address = bootstrap
    dep.options = {
        "group": GROUP,
        "partitions": partitions,
        "session_timeout_ms": SESSION_TIMEOUT_MS,
    }
    for link in ("driver -> broker", "workers -> broker"):
        delayed = hosts.netem or not (hosts.rtt_ms or hosts.loss_pct)
        dep.links[link] = carried(hosts) if delayed else NOT_DELAYED
    topics = {f"{GROUP}-tasks": partitions, f"{GROUP}-results": workers}
    dep.run_on_driver(
        "from distlab.services.kafka.broker import create_topics\n"
        f"create_topics({bootstrap!r}, {topics!r}, "
        f"config={{'max.message.bytes': '{MAX_MESSAGE_BYTES}'}})\n",
        timeout=90,
    )
    # functions pickled by reference (importable modules) must import on the workers too
    env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    index = 0
    for host, count in dep.spread(workers):
        for _ in range(count):
            command = worker_command(
                bootstrap=bootstrap,
                tasks=f"{GROUP}-tasks",
                results=f"{GROUP}-results",
                group=f"{GROUP}-workers",
                index=index,  # its results partition
                session_timeout_ms=SESSION_TIMEOUT_MS,
                max_message_bytes=MAX_MESSAGE_BYTES,
                fetch_wait_ms=FETCH_WAIT_MS,
            )
            index += 1
            dep.start(f"worker {index}", host, command, env=env)
    # the driver's engine waits at its start until the group covers every task partition
