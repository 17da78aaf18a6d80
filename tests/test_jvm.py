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
