"""Hadoop MapReduce, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option

PLUGIN = EnginePlugin(
    name="mapreduce",
    engine="distlab.engines.mapreduce.engine:MapReduceEngine",
    shapes=frozenset({"batch"}),
    capabilities=frozenset({"needs_server"}),
    server="HDFS, YARN and MapReduce in one JVM",
    extra="mapreduce",
    probe=("cloudpickle",),
    deploy="distlab.engines.mapreduce.hosts:deploy",
    options=(
        Option("python", str, None,
               "the python that runs the tasks (not set: this one; a cluster's own path)"),
        Option("max_attempts", int, 2, "attempts of a map or reduce task", minimum=1),
        Option("container_mb", int, 512, "memory of a task container (MB)", minimum=128),
        Option("hadoop_properties", dict, {}, "Hadoop properties of the embedded cluster"),
    ),
)  # fmt: skip
