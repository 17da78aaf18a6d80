"""The stream workload's Kafka broker on the test hosts: for an engine that reads its
stream from Kafka but brings no broker of its own (Spark, Flink, Ray, Dask), one Apache
Kafka broker on the server host, listening on that host's address, so that the engine's
workers on the other hosts read the source topic and write the results across the
network, as on a real cluster (on one machine the workload starts its own broker on
loopback, which other hosts cannot reach)."""

from __future__ import annotations

from distlab.hosts.deploy import Deployment, wait_for_port
from distlab.services.kafka.broker import KafkaBroker

#: beside the Kafka engine's broker (9092, 9093) should both run on the server host
PORT = 9094
CONTROLLER_PORT = 9095


def start_stream_broker(dep: Deployment) -> None:
    """A broker on the deployment's server host; the stream workload's ``bootstrap``."""
    server = dep.server
    broker = KafkaBroker(port=PORT, host=server.address)
    broker.controller_port = CONTROLLER_PORT
    props = broker.prepare()  # its storage formatted here; the JVM runs on the server host
    dep.scratch.append(str(broker.directory))
    dep.start("stream broker", server, broker.launch_command(props))
    wait_for_port(dep, server, PORT)
    dep.params["stream"] = {"bootstrap": f"{server.address}:{PORT}"}
    dep.links["workers, driver -> stream broker"] = (
        "no delay asked" if not (dep.hosts.rtt_ms or dep.hosts.loss_pct) else
        "netem on the link" if dep.hosts.netem else
        "not delayed: Kafka clients connect to the broker's advertised address, past any proxy"
    )  # fmt: skip
