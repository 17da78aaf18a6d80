"""The Hadoop cluster service: a real HDFS + YARN mini cluster on 127.0.0.1, by PID."""

from __future__ import annotations

import os
import subprocess

import pytest

from conformance import assert_nothing_left
from distlab.contracts import EngineStartError
from distlab.procs import listening_ports, tree
from distlab.services.hadoop import HadoopCluster
from distlab.services.hadoop_client import hadoop_java, hadoop_version, read_configuration
from present import require_hadoop

FS_SHELL = "org.apache.hadoop.fs.FsShell"


def _fs(cluster: HadoopCluster, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        hadoop_java(cluster.conf_dir, FS_SHELL, list(args)), capture_output=True, timeout=120
    )


@pytest.fixture(scope="module")
def java_and_jars():
    require_hadoop()


def test_cluster_serves_hdfs_and_yarn_on_loopback_and_stops_by_pid(java_and_jars, tmp_path):
    local = tmp_path / "hello.txt"
    local.write_text("hadoop café\nyarn\n", encoding="utf-8")
    cluster = HadoopCluster()
    try:
        cluster.start()
        workdir = cluster.workdir
        assert cluster.alive() and cluster.startup_s and cluster.startup_s > 0
        assert cluster.version == hadoop_version() and cluster.version.startswith("3.")
        assert cluster.label.startswith(f"Hadoop {cluster.version} HDFS hdfs://127.0.0.1:")
        # the client configuration names the cluster, as Hadoop's clients read it
        conf = read_configuration(cluster.conf_dir / "core-site.xml")
        assert conf["fs.defaultFS"] == cluster.hdfs_uri
        assert conf["yarn.resourcemanager.address"] == cluster.rm_address
        assert conf["mapreduce.framework.name"] == "yarn"
        assert conf["dfs.replication"] == "1"
        # HDFS: a file in, the same bytes out, through Hadoop's own shell
        assert _fs(cluster, "-mkdir", "-p", "/t").returncode == 0
        assert _fs(cluster, "-put", str(local), "/t/hello.txt").returncode == 0
        out = _fs(cluster, "-cat", "/t/hello.txt")
        assert out.returncode == 0 and out.stdout == local.read_bytes()
        # YARN: the ResourceManager knows one running NodeManager (`yarn node -list`)
        nodes = subprocess.run(
            hadoop_java(cluster.conf_dir, "org.apache.hadoop.yarn.client.cli.NodeCLI", ["-list"]),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert nodes.returncode == 0 and "Total Nodes:1" in nodes.stdout, nodes.stderr[-500:]
        assert "RUNNING" in nodes.stdout
        pids = {p.pid for p in tree([cluster.pid])}
        ports = listening_ports(pids)
        # every daemon listens on loopback; Hadoop's shuffle service alone binds the
        # wildcard address (ShuffleHandler has no bind-host setting)
        wildcard = {(ip, port) for ip, port in ports if ip not in ("127.0.0.1", "::ffff:127.0.0.1")}
        assert len(wildcard) <= 1, wildcard
        assert (cluster.host, cluster.ports["namenode"]) in ports
        assert (cluster.host, cluster.ports["resourcemanager"]) in ports
    finally:
        cluster.stop()
        cluster.stop()  # idempotent
    assert not cluster.alive() and cluster.pid is None
    assert_nothing_left(pids, ports)
    assert workdir and not os.path.exists(workdir)


def test_a_cluster_that_cannot_start_fails_in_one_line_and_leaves_nothing(java_and_jars):
    # a ResourceManager whose scheduler class does not exist: the manager's main thread
    # dies while the daemons already started keep its JVM alive
    cluster = HadoopCluster(properties={"yarn.resourcemanager.scheduler.class": "no.Such"})
    with pytest.raises(EngineStartError, match="ClassNotFoundException: no.Such") as info:
        cluster.start()
    assert "\n" not in str(info.value)
    assert cluster.pid is None and not cluster.alive() and cluster.workdir is None
