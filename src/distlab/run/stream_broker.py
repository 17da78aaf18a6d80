"""The stream workload's Kafka broker for a run on one machine: one Apache Kafka broker of
distlab's own on loopback, started and warmed up once by the runner before the first
engine, used as the source and sinks by every engine that reads its stream from Kafka
but brings no broker of its own (Ray, Dask, Spark, Flink) and by the raw pipe (the
reference), and stopped by PID when the run ends (also on Ctrl-C).

The broker is the harness's, not an engine's: started in the runner, it is outside every
engine process, so no engine's memory figures include it, and its start-up and warm-up
(about 8 s) are paid once per run instead of once per engine. The Kafka engine streams
through its own broker, as before."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from distlab import registry
from distlab.contracts import StreamEngine
from distlab.run.model import RunSpec

WORKLOAD = "stream"


def needs_stream_broker(name: str, spec: RunSpec) -> bool:
    """Whether the run streams on ``name`` (an engine, or the reference's raw pipe) from
    a broker it does not bring itself, and the user named none."""
    if WORKLOAD not in spec.workloads or spec.params.get(WORKLOAD, {}).get("bootstrap"):
        return False
    if name == "reference":
        return True
    cls = registry.engine_class(name)
    return issubclass(cls, StreamEngine) and not cls.own_kafka


@contextmanager
def run_stream_broker(spec: RunSpec) -> Iterator[dict[str, Any] | None]:
    """The stream workload's params for the engines that need a broker (its bootstrap
    and what the results record of it), or None when no engine of this run needs one
    (or the run is on test hosts, where each deployment brings its own)."""
    if spec.hosts or not any(needs_stream_broker(n, spec) for n in ["reference", *spec.engines]):
        yield None
        return
    from distlab.services.kafka.broker import KafkaBroker
    from distlab.services.kafka.harness import warm_up_broker

    broker = KafkaBroker()
    try:
        broker.start()
        warm_up_broker(broker.bootstrap)
        record = {**broker.settings(), "bootstrap": broker.bootstrap, "shared": "the run's streams"}
        yield {"bootstrap": broker.bootstrap, "broker": record}
    finally:
        broker.stop()


def with_stream_broker(
    name: str, spec: RunSpec, params: dict[str, dict], broker: dict[str, Any] | None
) -> dict[str, dict]:
    """``params`` with the run's stream broker added for ``name`` if it needs it."""
    if broker is None or not needs_stream_broker(name, spec):
        return params
    return {**params, WORKLOAD: {**params.get(WORKLOAD, {}), **broker}}
