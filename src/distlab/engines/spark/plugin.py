"""PySpark, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option

PLUGIN = EnginePlugin(
    name="spark",
    engine="distlab.engines.spark.engine:SparkEngine",
    shapes=frozenset({"tasks", "batch", "streams", "dataframe"}),
    capabilities=frozenset({"supports_shared_objects"}),
    server="local mode: driver and executors in one JVM",
    extra="spark",
    probe=("pyspark",),
    libraries=("pyspark",),
    deploy="distlab.engines.spark.hosts:deploy",
    options=(
        Option("conf", dict, {}, "Spark configuration, e.g. {'spark.driver.memory': '4g'}"),
        Option("start_timeout", float, 120.0, "seconds the warm-up job may take", minimum=1),
        Option(
            "interface",
            str,
            "sql",
            "how dataframe queries run: the SQL text, or the PySpark DataFrame API form",
            choices=("sql", "dataframe"),
        ),
    ),
)
