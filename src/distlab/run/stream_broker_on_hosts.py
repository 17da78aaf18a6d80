"""The stream workload's Kafka broker on the test hosts: for an engine that reads its
stream from Kafka but brings no broker of its own (Spark, Flink, Ray, Dask), one Apache
Kafka broker on the server host, listening on that host's address, so that the engine's
workers on the other hosts read the source topic and write the results across the
network, as on a real cluster (on one machine the workload starts its own broker on
loopback, which other hosts cannot reach)."""

from __future__ import annotations

from distlab.hosts.deploy import Deployment

#: beside the Kafka engine's broker (9092, 9093, 9100+) should both run on the server host
PORT = 9094
CONTROLLER_PORT = 9095
LISTENER_BASE = 9200


def start_stream_broker(dep: Deployment) -> None:
    """A broker on the deployment's server host; the stream workload's ``bootstrap``.
    Every host may read or write its topics (the driver, the engine's server, e.g. a
    Flink JobManager's source coordinator, and its workers), each through its own
    listener and proxy when delayed."""
    # imported here: the Kafka deployment needs confluent-kafka, which an install
    # without the kafka extra lacks, and every `distlab run` imports this module
    from distlab.engines.kafka.hosts import start_broker

    clients = [
        (h, "driver -> stream broker" if h is dep.driver else
            "server -> stream broker" if h is dep.server else "workers -> stream broker")
        for h in dep.hosts.hosts
    ]  # fmt: skip
    bootstrap = start_broker(dep, "stream broker", PORT, CONTROLLER_PORT, LISTENER_BASE, clients)
    dep.params["stream"] = {"bootstrap": bootstrap[dep.driver.name]}
