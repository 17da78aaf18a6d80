"""The pinned JVM parts: declared once (src/distlab/jvm/pom.xml), fetched by the set-up,
matching the Python side."""

from __future__ import annotations

import zipfile

from distlab import jvm


def test_pins_are_read_from_the_one_pom():
    pins = jvm.pins()
    assert pins["kafka.version"].startswith("4.")
    assert pins["hadoop.version"].startswith("3.")
    assert set(pins) >= {"spark.version", "flink.connector.version", "scala.binary.version"}


def test_every_module_has_its_jars_after_setup():
    for module in jvm.MODULES:
        jars = jvm.classpath(module)
        assert jars and all(zipfile.is_zipfile(j) for j in jars), module


def test_the_kafka_broker_jar_is_the_pinned_version():
    names = {j.name for j in jvm.classpath("kafka-broker")}
    version, scala = jvm.pins()["kafka.version"], jvm.pins()["scala.binary.version"]
    assert f"kafka_{scala}-{version}.jar" in names


def test_the_connectors_are_built_for_the_python_side():
    from importlib import metadata

    from distlab.engines.flink import env as flink_env

    pins = jvm.pins()
    names = {j.name for j in jvm.classpath("spark-kafka")}
    kafka_source = (
        f"spark-sql-kafka-0-10_{pins['scala.binary.version']}-{pins['spark.version']}.jar"
    )
    assert kafka_source in names
    # Spark's Kafka source must be built for the installed pyspark (uv.lock's)
    assert metadata.version("pyspark") == pins["spark.version"]
    # Flink's connector "5.0.0-2.2" is for Flink 2.2.x: the PyFlink that Flink's venv pins
    flink_minor = pins["flink.connector.version"].rsplit("-", 1)[1]
    assert flink_env.pinned_version("apache-flink").startswith(flink_minor + ".")
    (connector,) = jvm.classpath("flink-kafka")
    assert connector.name == f"flink-sql-connector-kafka-{pins['flink.connector.version']}.jar"
