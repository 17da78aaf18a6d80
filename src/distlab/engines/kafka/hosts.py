"""Kafka across the test hosts: one Apache Kafka broker (KRaft, broker and controller in
one JVM) on the server host, listening on that host's address; the tasks and results
topics made from the driver's host; one worker process (distlab.engines.kafka.worker) per
worker slot on the worker hosts, all in one consumer group. The driver's engine on h0 uses
them with its option ``group``: it starts no worker and makes no topic of its own.

Delay without netem: a Kafka client uses the bootstrap address only for its first
metadata request and then connects to the address the broker advertises, so a proxy in
front of the broker alone would be passed by. The broker therefore gets a listener of its
own per client host, each advertising the Toxiproxy on that host (127.0.0.1:P there):
every client stays behind its host's proxy (start_broker)."""

from __future__ import annotations

import os
import sys

from distlab.engines.kafka.worker import worker_command
from distlab.hosts.deploy import Deployment, build, carried, wait_for_port
from distlab.hosts.netns import Host, TestHosts
from distlab.services.kafka.broker import KafkaBroker
from distlab.services.kafka.clients import FETCH_WAIT_MS

PORT = 9092
CONTROLLER_PORT = 9093
#: the engine's option ``group``: topics GROUP-tasks and GROUP-results, group GROUP-workers
GROUP = "distlab-hosts"
#: the embedded engine's defaults, which the workers and the driver's engine share
SESSION_TIMEOUT_MS = 3000
MAX_MESSAGE_BYTES = 64 << 20
#: the ports of the per-client-host listeners: LISTENER_BASE + the host's index
LISTENER_BASE = 9100


def deploy(hosts: TestHosts, workers: int) -> Deployment:
    return build("kafka", hosts, workers, _start)


def start_broker(
    dep: Deployment,
    role: str,
    port: int,
    controller_port: int,
    listener_base: int,
    clients: list[tuple[Host, str]],
) -> dict[str, str]:
    """A broker (``role``) on the server host; host name -> the bootstrap address that
    host's clients use (``clients``: each client host and the name of its link to the
    broker). With delay and no netem, each client host reaches a listener of its own
    through its Toxiproxy, all of them on the same port of their host's loopback: one
    bootstrap address serves every host (a stream's, which its workers receive)."""
    hosts, server = dep.hosts, dep.server
    broker = KafkaBroker(port=port, host=server.address)
    broker.controller_port = controller_port
    bootstrap: dict[str, str] = {}
    for host, link in clients:
        if (hosts.rtt_ms or hosts.proxied) and not hosts.netem:
            listener = listener_base + hosts.hosts.index(host)
            address = dep.via(host, server, listener, link, listen=20000 + port % 10000)
            broker.extra_listeners[host.name.upper()] = (listener, address)
        else:
            address = f"{server.address}:{port}"
            dep.links[link] = carried(hosts)
        bootstrap[host.name] = address
    props = broker.prepare()  # its storage formatted here; the JVM runs on the server host
    dep.scratch.append(str(broker.directory))
    dep.start(role, server, broker.launch_command(props))
    wait_for_port(dep, server, port)
    return bootstrap


def _start(dep: Deployment, hosts: TestHosts, workers: int) -> None:
    placed = dep.spread(workers)
    clients = [(dep.driver, "driver -> broker"), *((h, "workers -> broker") for h, _ in placed)]
    bootstrap = start_broker(dep, "broker", PORT, CONTROLLER_PORT, LISTENER_BASE, clients)
    partitions = 2 * workers  # as the embedded engine: two task partitions per worker
    dep.address = bootstrap[dep.driver.name]
    dep.options = {
        "group": GROUP,
        "partitions": partitions,
        "session_timeout_ms": SESSION_TIMEOUT_MS,
    }
    topics = {f"{GROUP}-tasks": partitions, f"{GROUP}-results": workers}
    dep.run_on_driver(
        "from distlab.services.kafka.broker import create_topics\n"
        f"create_topics({dep.address!r}, {topics!r}, "
        f"config={{'max.message.bytes': '{MAX_MESSAGE_BYTES}'}})\n",
        timeout=90,
    )
    # functions pickled by reference (importable modules) must import on the workers too
    env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    index = 0
    for host, count in placed:
        for _ in range(count):
            command = worker_command(
                bootstrap=bootstrap[host.name],
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
