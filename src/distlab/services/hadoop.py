"""A real Apache Hadoop cluster on 127.0.0.1: HDFS (NameNode + DataNode) and YARN
(ResourceManager + NodeManager, with the MapReduce shuffle and a JobHistoryServer), in one
JVM, started and stopped by PID.

It is Hadoop's own mini-cluster manager (``org.apache.hadoop.mapreduce.MiniHadoopClusterManager``,
what Hadoop documents as the "CLI MiniCluster"), run from the pinned Maven Central jars
(``distlab.jvm.classpath("hadoop")``: hadoop-minicluster and hadoop-streaming). Every
address is 127.0.0.1 with a free port, chosen here; the data (HDFS blocks, NodeManager
directories, logs) live in a private temporary directory that goes with ``stop()``. The
NodeManager starts each YARN container (the MapReduce application master, every map and
reduce task) as a child process of the cluster's JVM, so the cluster's process tree holds
all of them.

    with HadoopCluster() as cluster:
        cluster.conf_dir      # a Hadoop client configuration directory (core-site.xml)
        cluster.hdfs_uri      # hdfs://127.0.0.1:P
        cluster.rm_address    # 127.0.0.1:P (YARN ResourceManager)

The client side (:func:`distlab.services.hadoop_client.hadoop_java`, the site files) is
distlab.services.hadoop_client: the same jars, the same Java.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import weakref
from pathlib import Path

from distlab import jvm
from distlab.contracts import EngineStartError, EngineUnavailable
from distlab.procs import free_port, stop_pids
from distlab.services.hadoop_client import (
    JAVA17_OPENS,
    hadoop_version,
    jars_dir,
    java_home,
    job_properties,
    read_configuration,
    write_client_conf,
)

HOST = "127.0.0.1"
MANAGER = "org.apache.hadoop.mapreduce.MiniHadoopClusterManager"
#: a cold start here takes 10-15 s (five daemons in one JVM); a loaded machine more
START_TIMEOUT_S = 180.0
#: the cluster JVM's heap: NameNode, DataNode, ResourceManager, NodeManager, JobHistory
CLUSTER_HEAP_MB = 1024

_CLUSTER_LOG4J = """\
log4j.rootLogger=INFO,file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={log}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=%d{{ISO8601}} %p %c{{2}}: %m%n
log4j.logger.org.apache.hadoop.ipc=WARN
log4j.logger.org.apache.hadoop.hdfs.StateChange=WARN
log4j.logger.org.apache.hadoop.hdfs.server.blockmanagement=WARN
log4j.logger.org.apache.hadoop.hdfs.server.datanode.DataNode.clienttrace=WARN
log4j.logger.org.apache.hadoop.hdfs.server.namenode.FSNamesystem.audit=WARN
log4j.logger.org.apache.hadoop.yarn.server.resourcemanager.RMAuditLogger=WARN
log4j.logger.org.apache.hadoop.yarn.server.nodemanager.NMAuditLogger=WARN
"""


def _cleanup(pid: int | None, workdir: str | None) -> None:
    if pid is not None:
        stop_pids([pid], grace=10.0)
    if workdir:
        shutil.rmtree(workdir, ignore_errors=True)


class HadoopCluster:
    """HDFS + YARN + MapReduce in one JVM on 127.0.0.1 (see the module docstring).

    ``nodemanager_mb`` is what YARN may hand out to containers; ``container_mb`` the size
    of each map or reduce task's container (``am_mb`` the application master's). The
    defaults fit a small machine: 2 cores and a few GB.
    """

    host = HOST

    def __init__(
        self,
        nodemanager_mb: int = 3072,
        nodemanager_vcores: int | None = None,
        container_mb: int = 512,
        am_mb: int = 512,
        heap_mb: int = CLUSTER_HEAP_MB,
        start_timeout: float = START_TIMEOUT_S,
        properties: dict[str, str] | None = None,
    ):
        self.nodemanager_mb = nodemanager_mb
        self.nodemanager_vcores = nodemanager_vcores or max(2, os.cpu_count() or 2)
        self.container_mb = container_mb
        self.am_mb = am_mb
        self.heap_mb = heap_mb
        self.start_timeout = start_timeout
        #: Hadoop properties over the defaults below (the cluster's and its clients')
        self.extra_properties = dict(properties or {})
        self.version = hadoop_version()
        self.workdir: str | None = None
        self.ports: dict[str, int] = {}
        self.pid: int | None = None
        #: seconds from launching the JVM to HDFS and YARN accepting work
        self.startup_s: float | None = None
        self._proc: subprocess.Popen | None = None
        self._finalizer: weakref.finalize | None = None

    # -- addresses ------------------------------------------------------------------------
    @property
    def hdfs_uri(self) -> str:
        return f"hdfs://{HOST}:{self.ports['namenode']}"

    @property
    def rm_address(self) -> str:
        return f"{HOST}:{self.ports['resourcemanager']}"

    @property
    def conf_dir(self) -> Path:
        if self.workdir is None:
            raise RuntimeError("the Hadoop cluster is not started")
        return Path(self.workdir) / "conf"

    @property
    def label(self) -> str:
        if not self.ports:
            return "Hadoop (not started)"
        return f"Hadoop {self.version} HDFS {self.hdfs_uri} YARN {self.rm_address}"

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def settings(self) -> dict[str, object]:
        """What is worth recording with results: sizes, not ports."""
        return {
            "hadoop_version": self.version,
            "daemons": "NameNode, DataNode, ResourceManager, NodeManager, JobHistoryServer",
            "cluster_heap_mb": self.heap_mb,
            "nodemanager_mb": self.nodemanager_mb,
            "nodemanager_vcores": self.nodemanager_vcores,
            "container_mb": self.container_mb,
            "am_mb": self.am_mb,
            "dfs_replication": 1,
            "startup_s": round(self.startup_s, 2) if self.startup_s is not None else None,
        }

    # -- configuration --------------------------------------------------------------------
    def _properties(self) -> dict[str, str]:
        """Every address on 127.0.0.1 (the manager asks for fixed ports: all are chosen
        here), small containers, the MapReduce framework on YARN, the job settings a
        client inherits through the written configuration."""
        p, h = self.ports, HOST
        return {
            "hadoop.tmp.dir": str(Path(self.workdir or ".") / "tmp"),
            # not derived from hadoop.tmp.dir: by default /tmp/hadoop-yarn-USER, left behind
            "yarn.node-attribute.fs-store.root-dir": (
                Path(self.workdir or ".").resolve() / "tmp" / "node-attribute"
            ).as_uri(),
            "dfs.replication": "1",
            "dfs.namenode.rpc-bind-host": h,
            "dfs.namenode.http-address": f"{h}:{p['namenode_http']}",
            "dfs.namenode.https-address": f"{h}:0",
            "dfs.datanode.hostname": h,
            "mapreduce.framework.name": "yarn",
            # ResourceManager (its client address is -rmport)
            "yarn.resourcemanager.hostname": h,
            "yarn.resourcemanager.bind-host": h,
            "yarn.resourcemanager.scheduler.address": f"{h}:{p['rm_scheduler']}",
            "yarn.resourcemanager.resource-tracker.address": f"{h}:{p['rm_tracker']}",
            "yarn.resourcemanager.admin.address": f"{h}:{p['rm_admin']}",
            "yarn.resourcemanager.webapp.address": f"{h}:{p['rm_web']}",
            "yarn.resourcemanager.webapp.https.address": f"{h}:0",
            # NodeManager
            "yarn.nodemanager.hostname": h,
            "yarn.nodemanager.bind-host": h,
            "yarn.nodemanager.address": f"{h}:0",
            "yarn.nodemanager.localizer.address": f"{h}:{p['nm_localizer']}",
            "yarn.nodemanager.webapp.address": f"{h}:0",
            "yarn.nodemanager.webapp.https.address": f"{h}:0",
            "yarn.nodemanager.collector-service.address": f"{h}:0",
            "yarn.nodemanager.amrmproxy.address": f"{h}:0",
            "yarn.nodemanager.resource.memory-mb": str(self.nodemanager_mb),
            "yarn.nodemanager.resource.cpu-vcores": str(self.nodemanager_vcores),
            # JobHistoryServer (its client address is -jhsport)
            "mapreduce.jobhistory.admin.address": f"{h}:{p['jhs_admin']}",
            "mapreduce.jobhistory.webapp.address": f"{h}:{p['jhs_web']}",
            "mapreduce.jobhistory.webapp.https.address": f"{h}:0",
            "mapreduce.shuffle.port": "0",
            **job_properties(self.conf_dir, self.nodemanager_mb, self.container_mb, self.am_mb),
            **self.extra_properties,
        }

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> HadoopCluster:
        if self._proc is not None:
            return self
        try:
            last = ""
            for _ in range(3):  # a free port can be taken between probing and binding
                self.stop()
                last = self._launch()
                if not last:
                    return self
                if "BindException" not in last and "Address already in use" not in last:
                    break
            if "getSubject is not supported" in last:  # Java 23+: Hadoop 3.4 cannot run
                last += f" (Hadoop {self.version} needs Java 8 to 21: set JAVA_HOME to a Java 17)"
            raise EngineStartError(f"the Hadoop cluster did not start: {last}")
        except BaseException:  # KeyboardInterrupt too: leave nothing behind
            self.stop()
            raise

    def _launch(self) -> str:
        """Start the cluster JVM; '' once HDFS and YARN are up, else why it failed."""
        try:
            java = jvm.java()
            jars = jars_dir()
        except EngineUnavailable as exc:
            return str(exc)
        self.workdir = tempfile.mkdtemp(prefix="distlab-hadoop-")
        work = Path(self.workdir)
        names = (
            "namenode", "namenode_http", "resourcemanager", "rm_scheduler", "rm_tracker",
            "rm_admin", "rm_web", "nm_localizer", "jobhistory", "jhs_admin", "jhs_web",
        )  # fmt: skip
        self.ports = {}
        while len(self.ports) < len(names):  # distinct ports
            port = free_port(HOST)
            if port not in self.ports.values():
                self.ports[names[len(self.ports)]] = port
        (work / "tmp").mkdir()
        cluster_conf = work / "cluster-conf"
        cluster_conf.mkdir()
        log = work / "cluster.log"
        (cluster_conf / "log4j.properties").write_text(_CLUSTER_LOG4J.format(log=log))
        written, details = work / "written-conf.xml", work / "details.json"
        props = self._properties()
        cmd = [
            java,
            f"-Xmx{self.heap_mb}m",
            *JAVA17_OPENS,
            "-Djava.net.preferIPv4Stack=true",
            f"-Djava.io.tmpdir={work / 'tmp'}",
            f"-Dtest.build.data={work / 'data'}",
            f"-Dlog4j.configuration=file:{cluster_conf / 'log4j.properties'}",
            "-cp",
            f"{cluster_conf}{os.pathsep}{jars / '*'}",
            MANAGER,
            "-format",
            "-datanodes", "1",
            "-nodemanagers", "1",
            "-nnport", str(self.ports["namenode"]),
            "-nnhttpport", str(self.ports["namenode_http"]),
            "-rmport", str(self.ports["resourcemanager"]),
            "-jhsport", str(self.ports["jobhistory"]),
            "-writeConfig", str(written),
            "-writeDetails", str(details),
        ]  # fmt: skip
        for key, value in props.items():
            cmd += ["-D", f"{key}={value}"]
        env = {**os.environ, "JAVA_HOME": java_home(), "HADOOP_CONF_DIR": str(self.conf_dir)}
        for var in ("HADOOP_HOME", "HADOOP_PREFIX", "HADOOP_MAPRED_HOME", "YARN_CONF_DIR"):
            env.pop(var, None)
        started = time.monotonic()
        with open(work / "cluster.out", "wb") as out:
            # its own process group: Ctrl-C at the terminal reaches distlab, which stops
            # the cluster by PID (a JVM interrupted mid-start can hang on its threads)
            self._proc = subprocess.Popen(
                cmd,
                cwd=work,  # the mini clusters keep their directories under ./target
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.pid = self._proc.pid
        self._finalizer = weakref.finalize(self, _cleanup, self.pid, self.workdir)
        deadline = started + self.start_timeout
        polls = 0
        while not details.exists() or not written.exists():
            if self._proc.poll() is not None:
                return f"exited with code {self._proc.returncode}: {_failure(work)}"
            if time.monotonic() > deadline:
                return f"not up within {self.start_timeout:.0f}s: {_failure(work)}"
            polls += 1
            if polls % 10 == 0:
                # the manager's main thread died (the daemons' threads keep the JVM
                # alive, so it does not exit): not a cluster
                fatal = _failure(work, fatal_only=True)
                if fatal:
                    return fatal
            time.sleep(0.1)
        fatal = _failure(work, fatal_only=True)
        if fatal:
            return fatal
        time.sleep(0.2)  # the details file is written last: let the writer close it
        try:
            json.loads(details.read_text())
        except ValueError:
            time.sleep(1.0)
        # The client configuration: everything the cluster was given and its addresses
        # (the manager writes its whole configuration, defaults included).
        client = read_configuration(written)
        client.update(props)
        client["fs.defaultFS"] = self.hdfs_uri
        client["yarn.resourcemanager.address"] = self.rm_address
        client["mapreduce.jobhistory.address"] = f"{HOST}:{self.ports['jobhistory']}"
        write_client_conf(self.conf_dir, client)
        self.startup_s = time.monotonic() - started
        return ""

    def stop(self) -> None:
        """Stop the cluster JVM and its containers by PID; remove its directory.
        Idempotent."""
        if self._finalizer is not None:
            self._finalizer()  # runs _cleanup once, then detaches
            self._finalizer = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=10)  # reap it: no zombie left behind
            except subprocess.TimeoutExpired:
                pass
            self._proc = None
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        self.pid = None

    def __enter__(self) -> HadoopCluster:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


_FATAL = re.compile(r"^(Exception in thread \"main\"|Caused by: )(.*)$", re.M)


def _failure(work: Path, fatal_only: bool = False) -> str:
    """The reason in the cluster's output: the main thread's exception and its root cause,
    else (unless ``fatal_only``) the last error line of the log."""
    try:
        out = (work / "cluster.out").read_text(errors="replace")
    except OSError:
        out = ""
    found = _FATAL.findall(out)
    if found:
        main = [m for m in found if m[0].startswith("Exception")]
        if main:
            return (found[-1][1] or main[0][1]).strip()[:300]
    if fatal_only:
        return ""
    try:
        log = (work / "cluster.log").read_text(errors="replace").splitlines()
    except OSError:
        log = []
    errors = [ln for ln in log if " ERROR " in ln or " FATAL " in ln]
    tail = errors[-1:] or [ln for ln in out.splitlines() if ln.strip()][-1:]
    return (tail[0].strip()[:300]) if tail else "(no output)"
