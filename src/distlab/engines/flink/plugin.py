"""PyFlink, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option

PLUGIN = EnginePlugin(
    name="flink",
    engine="distlab.engines.flink.engine:FlinkEngine",
    shapes=frozenset({"batch", "streams", "dataframe"}),
    server="mini-cluster: JobManager and TaskManagers in one JVM",
    extra="flink",
    libraries=("apache-flink",),
    # PyFlink lives in an environment of its own (its pins clash with the other engines')
    interpreter="distlab.engines.flink.env:ensure",
    deploy="distlab.engines.flink.hosts:deploy",
    options=(
        Option("python_executable", str, None,
               "the python a user's cluster runs the functions with"),
        Option("flink_conf", dict, {}, "Flink configuration added to every job's"),
    ),
)  # fmt: skip
