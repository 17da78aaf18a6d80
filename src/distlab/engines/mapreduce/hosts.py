"""Hadoop across the test hosts as its daemons, each its own JVM from the pinned jars
(the classes Hadoop's ``hdfs`` and ``yarn`` scripts start): the NameNode, the
ResourceManager and the JobHistoryServer on the server host, a DataNode and a NodeManager
(with MapReduce's shuffle) on each worker host, every one bound to its host's address.
The driver's mapreduce engine on h0 uses them through a client configuration directory
(its ``--address``); the jobs' containers (the application master, every map and reduce
task) run on the worker hosts' NodeManagers and read and write HDFS there.

Without netem no delay sits on Hadoop's links: HDFS clients reach the DataNodes the
NameNode names, and YARN's containers reach the ResourceManager and each other directly."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from distlab import jvm
from distlab.hosts.deploy import Deployment, build, carried, wait_for_json, wait_for_port
from distlab.hosts.netns import Host, TestHosts
from distlab.services.hadoop_client import (
    JAVA17_OPENS,
    jars_dir,
    java_home,
    job_properties,
    write_client_conf,
)

#: Hadoop's default ports (one daemon of a kind per host here)
PORTS = {"namenode": 8020, "namenode_http": 9870, "rm": 8032, "rm_scheduler": 8030,
         "rm_tracker": 8031, "rm_admin": 8033, "rm_web": 8088, "jhs": 10020, "jhs_web": 19888,
         "datanode": 9866, "datanode_http": 9864, "datanode_ipc": 9867, "nodemanager": 8040,
         "shuffle": 13562}  # fmt: skip
CONTAINER_MB = 512
AM_MB = 512
DAEMON_HEAP_MB = 512

NAMENODE = "org.apache.hadoop.hdfs.server.namenode.NameNode"
DATANODE = "org.apache.hadoop.hdfs.server.datanode.DataNode"
RESOURCEMANAGER = "org.apache.hadoop.yarn.server.resourcemanager.ResourceManager"
NODEMANAGER = "org.apache.hadoop.yarn.server.nodemanager.NodeManager"
JOBHISTORY = "org.apache.hadoop.mapreduce.v2.hs.JobHistoryServer"


def deploy(hosts: TestHosts, workers: int) -> Deployment:
    return build("mapreduce", hosts, workers, _start)


def _properties(server: Host, host: Host, scratch: Path, conf: Path, nm_mb: int) -> dict:
    """One host's configuration: the cluster's addresses, its own daemons' bindings."""
    s, h, p = server.address, host.address, PORTS
    return {
        "hadoop.tmp.dir": str(scratch / host.name),
        # not derived from hadoop.tmp.dir: by default /tmp/hadoop-yarn-USER, left behind
        "yarn.node-attribute.fs-store.root-dir": (scratch / host.name / "node-attribute").as_uri(),
        "fs.defaultFS": f"hdfs://{s}:{p['namenode']}",
        "dfs.replication": "1",
        "dfs.namenode.rpc-address": f"{s}:{p['namenode']}",
        "dfs.namenode.http-address": f"{s}:{p['namenode_http']}",
        "dfs.namenode.https-address": f"{s}:0",
        # the test hosts have no names: addresses throughout, no reverse lookups
        "dfs.namenode.datanode.registration.ip-hostname-check": "false",
        "dfs.namenode.safemode.extension": "0",
        "dfs.datanode.hostname": h,
        "dfs.datanode.address": f"{h}:{p['datanode']}",
        "dfs.datanode.http.address": f"{h}:{p['datanode_http']}",
        "dfs.datanode.ipc.address": f"{h}:{p['datanode_ipc']}",
        "mapreduce.framework.name": "yarn",
        "yarn.resourcemanager.hostname": s,
        "yarn.resourcemanager.address": f"{s}:{p['rm']}",
        "yarn.resourcemanager.scheduler.address": f"{s}:{p['rm_scheduler']}",
        "yarn.resourcemanager.resource-tracker.address": f"{s}:{p['rm_tracker']}",
        "yarn.resourcemanager.admin.address": f"{s}:{p['rm_admin']}",
        "yarn.resourcemanager.webapp.address": f"{s}:{p['rm_web']}",
        "yarn.nodemanager.hostname": h,
        "yarn.nodemanager.address": f"{h}:{p['nodemanager']}",
        "yarn.nodemanager.localizer.address": f"{h}:0",
        "yarn.nodemanager.webapp.address": f"{h}:0",
        "yarn.nodemanager.collector-service.address": f"{h}:0",
        "yarn.nodemanager.amrmproxy.address": f"{h}:0",
        # the scripts would set these from -Dyarn.log.dir; containers need absolute paths
        "yarn.nodemanager.local-dirs": str(scratch / host.name / "nm-local"),
        "yarn.nodemanager.log-dirs": str(scratch / host.name / "nm-logs"),
        "yarn.nodemanager.resource.memory-mb": str(nm_mb),
        "yarn.nodemanager.resource.cpu-vcores": str(max(2, os.cpu_count() or 2)),
        "yarn.nodemanager.aux-services": "mapreduce_shuffle",
        "yarn.nodemanager.aux-services.mapreduce_shuffle.class":
            "org.apache.hadoop.mapred.ShuffleHandler",
        "mapreduce.shuffle.port": str(p["shuffle"]),
        "mapreduce.jobhistory.address": f"{s}:{p['jhs']}",
        "mapreduce.jobhistory.webapp.address": f"{s}:{p['jhs_web']}",
        "mapreduce.jobhistory.admin.address": f"{s}:0",
        **job_properties(conf, nm_mb, CONTAINER_MB, AM_MB),
    }  # fmt: skip


def _daemon(conf: Path, main: str, *args: str) -> list[str]:
    log4j = conf / "daemon-log4j.properties"
    tmp = conf / "tmp"  # the web servers' scratch (Jetty), gone with the deployment
    tmp.mkdir(exist_ok=True)
    return [
        jvm.java(), f"-Xmx{DAEMON_HEAP_MB}m", *JAVA17_OPENS, "-Djava.net.preferIPv4Stack=true",
        f"-Djava.io.tmpdir={tmp}",
        f"-Dlog4j.configuration=file:{log4j}", "-Dhadoop.root.logger=INFO,console",
        "-cp", f"{conf}{os.pathsep}{jars_dir() / '*'}", main, *args,
    ]  # fmt: skip


def _conf(scratch: Path, server: Host, host: Host, nm_mb: int) -> Path:
    conf = scratch / f"conf-{host.name}"
    write_client_conf(conf, _properties(server, host, scratch, conf, nm_mb))
    # the daemons log INFO to their role's log (the client's file logs WARN to stderr)
    text = (conf / "log4j.properties").read_text().replace("=WARN,console", "=INFO,console")
    (conf / "daemon-log4j.properties").write_text(text)
    return conf


def _start(dep: Deployment, hosts: TestHosts, workers: int) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="distlab-hosts-hadoop-"))
    dep.scratch.append(str(scratch))
    server = dep.server
    placed = dep.spread(workers)
    # each NodeManager: its share of task containers plus room for the application master
    nm_mb = {h.name: AM_MB + count * CONTAINER_MB for h, count in placed}
    env = {"JAVA_HOME": java_home()}  # YARN starts containers with $JAVA_HOME/bin/java
    server_conf = _conf(scratch, server, server, max(nm_mb.values()))
    format_cmd = server.command(
        _daemon(server_conf, NAMENODE, "-format", "-force", "-nonInteractive")
    )
    subprocess.run(format_cmd, check=True, capture_output=True, timeout=120)
    dep.start("namenode", server, _daemon(server_conf, NAMENODE), env=env)
    dep.start("resourcemanager", server, _daemon(server_conf, RESOURCEMANAGER), env=env)
    dep.start("jobhistoryserver", server, _daemon(server_conf, JOBHISTORY), env=env)
    for i, (host, _) in enumerate(placed, start=1):
        conf = _conf(scratch, server, host, nm_mb[host.name])
        dep.start(f"datanode {i}", host, _daemon(conf, DATANODE), env=env)
        dep.start(f"nodemanager {i}", host, _daemon(conf, NODEMANAGER), env=env)
    for port in ("namenode", "rm", "jhs"):
        wait_for_port(dep, server, PORTS[port], timeout=120)
    # the driver's client configuration: the cluster's addresses, the driver's host's own
    dep.address = str(_conf(scratch, server, dep.driver, max(nm_mb.values())))
    _wait_for_nodes(dep, server, len(placed))
    dep.links["driver -> NameNode, ResourceManager"] = carried(hosts)
    dep.links["clients, containers <-> DataNodes, NodeManagers (data, shuffle)"] = carried(
        hosts, peer_to_peer=True
    )


def _wait_for_nodes(dep: Deployment, server: Host, nodes: int) -> None:
    """Every DataNode live and every NodeManager running before the first figure."""
    s, p = server.address, PORTS
    namenode = (
        f"http://{s}:{p['namenode_http']}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState"
    )
    wait_for_json(
        dep,
        {"nn": namenode, "rm": f"http://{s}:{p['rm_web']}/ws/v1/cluster/metrics"},
        f"nn['beans'][0]['NumLiveDataNodes'] >= {nodes} and "
        f"rm['clusterMetrics']['activeNodes'] >= {nodes}",
        "every DataNode and NodeManager joined",
        timeout=120,
    )
