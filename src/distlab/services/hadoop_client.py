"""The client side of Hadoop, shared by the cluster distlab starts (distlab.services.hadoop)
and the mapreduce engine's jobs on any cluster: the pinned version, the Java that runs it,
the command line of a Hadoop client JVM (``FsShell``, Hadoop Streaming) for a client
configuration directory, and that directory's ``*-site.xml`` files.
"""

from __future__ import annotations

import os
from pathlib import Path

from distlab import jvm

#: what Hadoop 3.4 needs opened on Java 17 (its own hadoop-env.sh list; Guice's cglib in the
#: YARN web apps fails without java.lang)
JAVA17_OPENS = tuple(
    f"--add-opens=java.base/{pkg}=ALL-UNNAMED"
    for pkg in (
        "java.lang",
        "java.lang.reflect",
        "java.io",
        "java.net",
        "java.nio",
        "java.util",
        "java.util.concurrent",
        "java.util.concurrent.atomic",
        "sun.nio.ch",
        "sun.net.dns",
        "sun.net.util",
    )
)
#: short-lived JVMs (clients, containers): start fast, small footprint
QUICK_JVM = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-XX:-UsePerfData")


def hadoop_version() -> str:
    """The pinned Hadoop version (src/distlab/jvm/pom.xml), e.g. '3.4.2'."""
    return jvm.pins().get("hadoop.version", "?")


def jars_dir() -> Path:
    """The directory holding the Hadoop jars (fetched first if need be)."""
    return jvm.classpath("hadoop")[0].parent


def java_home() -> str:
    """JAVA_HOME of the java distlab runs (YARN starts containers with $JAVA_HOME/bin/java)."""
    return str(Path(os.path.realpath(jvm.java())).parent.parent)


def hadoop_java(
    conf_dir: str | Path, main: str, args: list[str], heap_mb: int = 256, log_level: str = "WARN"
) -> list[str]:
    """The command line of a Hadoop client JVM: ``main`` with ``args``, the pinned jars,
    the configuration in ``conf_dir`` first on the classpath, log4j to stderr."""
    return [
        jvm.java(),
        f"-Xmx{heap_mb}m",
        *QUICK_JVM,
        *JAVA17_OPENS,
        f"-Dhadoop.root.logger={log_level},console",
        f"-Dlog4j.configuration=file:{Path(conf_dir) / 'log4j.properties'}",
        "-cp",
        f"{conf_dir}{os.pathsep}{jars_dir() / '*'}",
        main,
        *args,
    ]


def job_properties(conf_dir: Path, nodemanager_mb: int, container_mb: int, am_mb: int) -> dict:
    """The settings of YARN's containers and of the MapReduce jobs in them, wherever the
    daemons run: small containers, the pinned jars and conf_dir on their classpath,
    quick-starting JVMs, short heartbeats and polls, no speculative attempts."""
    heap = max(128, int(container_mb * 0.6))
    am_heap = max(128, int(am_mb * 0.7))
    container_jvm = " ".join([*QUICK_JVM, *JAVA17_OPENS, "-Djava.net.preferIPv4Stack=true"])
    classpath = f"{conf_dir},{jars_dir()}/*"
    return {
        "yarn.nodemanager.pmem-check-enabled": "false",
        "yarn.nodemanager.vmem-check-enabled": "false",
        "yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage": "99",
        "yarn.scheduler.minimum-allocation-mb": "128",
        "yarn.scheduler.maximum-allocation-mb": str(nodemanager_mb),
        "yarn.resourcemanager.nodemanagers.heartbeat-interval-ms": "250",
        # MapReduce jobs: their containers run these jars with this Java
        "mapreduce.application.classpath": classpath,
        "yarn.application.classpath": classpath,
        "yarn.app.mapreduce.am.resource.mb": str(am_mb),
        "yarn.app.mapreduce.am.command-opts": f"-Xmx{am_heap}m",
        "yarn.app.mapreduce.am.admin-command-opts": container_jvm,
        "yarn.app.mapreduce.am.scheduler.heartbeat.interval-ms": "200",
        "mapreduce.map.memory.mb": str(container_mb),
        "mapreduce.reduce.memory.mb": str(container_mb),
        "mapreduce.map.java.opts": f"-Xmx{heap}m",
        "mapreduce.reduce.java.opts": f"-Xmx{heap}m",
        "mapreduce.admin.map.child.java.opts": container_jvm,
        "mapreduce.admin.reduce.child.java.opts": container_jvm,
        "mapreduce.task.io.sort.mb": str(min(64, max(16, heap // 4))),
        "mapreduce.map.speculative": "false",
        "mapreduce.reduce.speculative": "false",
        "mapreduce.client.progressmonitor.pollinterval": "200",
        "mapreduce.client.completion.pollinterval": "200",
        # a file's close polls the NameNode until its last block is reported: start
        # that poll at 20 ms, not 400 (each file of a put or a job's output waits it)
        "dfs.client.block.write.locateFollowingBlock.initial.delay.ms": "20",
        "dfs.client.block.write.locateFollowingBlock.retries": "10",
    }


#: log4j 1 (reload4j) settings: the root logger from -Dhadoop.root.logger, to stderr
_CLIENT_LOG4J = """\
hadoop.root.logger=WARN,console
log4j.rootLogger=${hadoop.root.logger}
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{1}: %m%n
"""

SITE_FILES = ("core-site.xml", "hdfs-site.xml", "yarn-site.xml", "mapred-site.xml")


def write_client_conf(conf_dir: Path, properties: dict[str, str]) -> None:
    """A Hadoop configuration directory: ``properties`` in each *-site.xml (a Hadoop
    Configuration reads core-site.xml, then hdfs-, yarn- or mapred-default.xml and -site.xml:
    a value only in core-site.xml loses to those defaults) and the client's log4j.properties."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    text = configuration_xml(properties)
    for name in SITE_FILES:
        (conf_dir / name).write_text(text)
    (conf_dir / "log4j.properties").write_text(_CLIENT_LOG4J)


def configuration_xml(properties: dict[str, str]) -> str:
    from xml.sax.saxutils import escape

    body = "".join(
        f"  <property><name>{escape(k)}</name><value>{escape(str(v))}</value></property>\n"
        for k, v in properties.items()
    )
    return f'<?xml version="1.0"?>\n<configuration>\n{body}</configuration>\n'


def read_configuration(path: Path) -> dict[str, str]:
    """The name -> value pairs of one Hadoop configuration XML file."""
    import xml.etree.ElementTree as ET

    out: dict[str, str] = {}
    for prop in ET.parse(path).getroot().iter("property"):
        name, value = prop.findtext("name"), prop.findtext("value")
        if name:
            out[name.strip()] = (value or "").strip()
    return out
