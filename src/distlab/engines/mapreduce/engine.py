"""Apache Hadoop MapReduce: batch jobs as YARN applications, input and output on HDFS.

``map_reduce(paths, mapper, reducer)`` runs one Hadoop Streaming job:

1. the input files go to HDFS (``FsShell -put``: one directory per job);
2. ``HadoopStreaming`` submits the job to YARN: one map task per file (per HDFS block of
   a larger one), ``workers`` reduce tasks; each task runs ``task.py`` (shipped with
   ``-files`` beside the cloudpickled functions) under this Python; Hadoop sorts,
   shuffles and groups between the phases;
3. the reducers' output is read back from HDFS (``FsShell -cat``) and the job's HDFS
   directories removed (in the background: not on the job's clock).

Every step is a Hadoop client JVM from the pinned jars (distlab.jvm): nothing of Hadoop is
imported in Python. ``last_job`` describes the last job: its YARN application id, its
HDFS paths, the time of each step and Hadoop's own counters.

Embedded (no address), the engine starts a Hadoop cluster on 127.0.0.1
(distlab.services.hadoop: NameNode, DataNode, ResourceManager, NodeManager, JobHistory
in one JVM). The NodeManager offers ``workers`` task containers at a time (plus the
application master's), so ``workers`` bounds the tasks that run at once, as it does on
the other engines.

``address`` points at the user's cluster instead: its client configuration directory
(HADOOP_CONF_DIR: core-site.xml, yarn-site.xml, ...), or
``hdfs://NAMENODE:PORT,RESOURCEMANAGER:PORT``. Its nodes must be able to run this
Python (with cloudpickle) at the same path, or the one given as ``python=...``.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import cloudpickle
import psutil

from distlab.contracts import BatchEngine, DistlabError
from distlab.engines.mapreduce import task as task_module
from distlab.engines.mapreduce.client import ClientConf, job_counters, job_phases
from distlab.engines.mapreduce.plugin import PLUGIN
from distlab.procs import tree
from distlab.services.hadoop import HadoopCluster
from distlab.services.hadoop_client import hadoop_java, hadoop_version

FS_SHELL = "org.apache.hadoop.fs.FsShell"
STREAMING = "org.apache.hadoop.streaming.HadoopStreaming"
#: Hadoop's default ports, for addresses given without one
#: an FsShell call (put, cat, mkdir) that takes longer has hung
FS_TIMEOUT_S = 600
#: the counters kept in last_job (Hadoop's names -> ours)
_APP_ID = re.compile(r"\b(application_\d+_\d+)\b")


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else ""


class MapReduceEngine(BatchEngine):
    name = "mapreduce"
    plugin = PLUGIN
    needs_server = True
    # a job is new JVMs (client, application master, one per task) and Python task
    # processes; here the first job took 18.4 s and the next 19.1 s
    jobs_start_fresh = True
    address_help = (
        "a Hadoop cluster: its client configuration directory (HADOOP_CONF_DIR) or "
        "hdfs://NAMENODE:PORT,RESOURCEMANAGER:PORT (default: a Hadoop cluster on 127.0.0.1)"
    )
    #: what the engine starts when no address is given (``distlab engines`` shows it)
    server = "HDFS, YARN and MapReduce in one JVM"

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        super().__init__(address, workers, **options)
        #: the interpreter that runs the tasks (on a user's cluster: the nodes' path)
        self.python: str = self.options["python"] or sys.executable
        self.max_attempts: int = self.options["max_attempts"]
        self.container_mb: int = self.options["container_mb"]
        #: the last job: YARN application id, HDFS paths, seconds per step, counters
        self.last_job: dict[str, Any] = {}
        self.cluster: HadoopCluster | None = None
        self.conf_dir: Path | None = None
        self._scratch: str | None = None
        #: this engine's HDFS directory (its jobs' input and output go under it)
        self.hdfs_root: str | None = None
        self._jobs = 0
        self._cleanups: list[subprocess.Popen] = []
        self._lock = threading.Lock()

    # -- declarations -------------------------------------------------------------------
    @classmethod
    def check_address(cls, address: str) -> None:
        """A Hadoop client configuration directory or ``hdfs://NN:PORT,RM:PORT``, with
        its NameNode and ResourceManager answering."""
        ClientConf(address).check()

    @classmethod
    def server_version(cls) -> str:
        """The version of the server the engine starts (the pinned Hadoop)."""
        return f"Apache Hadoop {hadoop_version()}"

    # -- lifecycle ----------------------------------------------------------------------
    def _start(self) -> None:
        self._scratch = tempfile.mkdtemp(prefix="distlab-mapreduce-")
        if self.address:
            conf = ClientConf(self.address)
            conf.check()
            self.conf_dir = conf.write(Path(self._scratch) / "conf")
        else:
            self.cluster = HadoopCluster(
                # the application master's container plus `workers` task containers
                nodemanager_mb=512 + self.workers * self.container_mb,
                container_mb=self.container_mb,
                am_mb=512,
                properties=self.options["hadoop_properties"],
            ).start()
            self.conf_dir = self.cluster.conf_dir
        self.hdfs_root = f"/tmp/distlab/{uuid.uuid4().hex[:12]}"
        self._fs(["-mkdir", "-p", self.hdfs_root])

    def close(self) -> None:
        with self._lock:
            cleanups, self._cleanups = self._cleanups, []
        embedded = self.cluster is not None
        for proc in cleanups:  # the jobs' HDFS directories, being removed
            try:
                # the embedded cluster's HDFS goes with it: no need to wait
                proc.wait(timeout=0.1 if embedded else 30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if not embedded and self._scratch and self.hdfs_root and self.conf_dir:
            # the user's cluster: remove this engine's HDFS directory
            try:
                self._fs(["-rm", "-r", "-f", "-skipTrash", self.hdfs_root], timeout=60)
            except Exception:
                pass
        with self._lock:
            cluster, self.cluster = self.cluster, None
            scratch, self._scratch = self._scratch, None
        if cluster is not None:
            cluster.stop()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        self.hdfs_root = None
        self.conf_dir = None
        self.started = False

    # -- Hadoop clients -----------------------------------------------------------------
    def _java(self, main: str, args: list[str], log_level: str = "WARN") -> list[str]:
        assert self.conf_dir is not None and self._scratch is not None
        cmd = hadoop_java(self.conf_dir, main, args, log_level=log_level)
        cmd.insert(1, f"-Djava.io.tmpdir={self._scratch}")
        return cmd

    def _client_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for var in ("HADOOP_CONF_DIR", "YARN_CONF_DIR", "HADOOP_HOME", "HADOOP_CLASSPATH"):
            env.pop(var, None)
        return env

    def _fs(self, args: list[str], timeout: float = FS_TIMEOUT_S) -> bytes:
        """One FsShell command; its stdout; a one-line DistlabError when it fails."""
        try:
            done = subprocess.run(
                self._java(FS_SHELL, args),
                capture_output=True,
                timeout=timeout,
                env=self._client_env(),
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise DistlabError(f"hdfs dfs {args[0]} took over {timeout:.0f}s") from None
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace")
            lines = [ln for ln in err.splitlines() if "NativeCodeLoader" not in ln]
            why = next((ln.strip() for ln in lines if args[0].lstrip("-") + ":" in ln), None)
            why = why or (lines[-1].strip() if lines else f"exit status {done.returncode}")
            raise DistlabError(f"hdfs dfs {args[0]} failed: {why}")
        return done.stdout

    # -- the job ------------------------------------------------------------------------
    def map_reduce(self, paths, mapper, reducer) -> dict[Any, Any]:
        if not self.started or self._scratch is None or self.hdfs_root is None:
            raise DistlabError("the mapreduce engine is not started")
        paths = [str(p) for p in paths]
        if not paths:
            return {}
        with self._lock:
            self._jobs += 1
            n = self._jobs
            self._reap_cleanups()
        job_dir = Path(tempfile.mkdtemp(prefix=f"job-{n}-", dir=self._scratch))
        hdfs_in = f"{self.hdfs_root}/job-{n}-input"
        hdfs_out = f"{self.hdfs_root}/job-{n}-output"
        info: dict[str, Any] = {"hdfs_input": hdfs_in, "hdfs_output": hdfs_out}
        self.last_job = info
        try:
            # the job's files: the functions and the task script, shipped by -files
            (job_dir / "functions.pkl").write_bytes(cloudpickle.dumps((mapper, reducer)))
            shutil.copy(task_module.__file__, job_dir / "task.py")
            # the input: one local directory (links, numbered: names may repeat) put
            # as the job's HDFS input directory in one FsShell call
            stage = job_dir / "input"
            stage.mkdir()
            for i, p in enumerate(paths):
                os.symlink(os.path.abspath(p), stage / f"{i:05d}-{os.path.basename(p)}")
            t0 = time.perf_counter()
            self._fs(["-put", str(stage), hdfs_in])
            info["put_s"] = round(time.perf_counter() - t0, 3)
            t1 = time.perf_counter()
            self._stream(job_dir, hdfs_in, hdfs_out, info)
            info["job_s"] = round(time.perf_counter() - t1, 3)
            t2 = time.perf_counter()
            data = self._fs(["-cat", f"{hdfs_out}/part-*"])
            info["cat_s"] = round(time.perf_counter() - t2, 3)
            result: dict[Any, Any] = {}
            for line in data.splitlines():
                key, _, value = line.partition(b"\t")
                result[task_module.decode(key)] = task_module.decode(value)
            return result
        finally:
            shutil.rmtree(job_dir, ignore_errors=True)
            self._remove_later([hdfs_in, hdfs_out])

    def _stream(self, job_dir: Path, hdfs_in: str, hdfs_out: str, info: dict) -> None:
        python_path = os.pathsep.join(p for p in sys.path if p and " " not in p)
        command = f"{self.python} task.py"
        args = [
            "-D", f"mapreduce.job.name=distlab-mapreduce-{job_dir.name}",
            "-D", "mapreduce.framework.name=yarn",  # never Hadoop's local job runner
            "-D", f"mapreduce.job.reduces={self.workers}",
            # one split per file (per HDFS block of a larger one): the old API's split size
            # is max(minsize, min(total size / maps, block size))
            "-D", "mapreduce.job.maps=1",
            "-D", f"mapreduce.map.maxattempts={self.max_attempts}",
            "-D", f"mapreduce.reduce.maxattempts={self.max_attempts}",
            "-D", f"stream.tmpdir={job_dir}",
            "-files", f"{job_dir / 'task.py'},{job_dir / 'functions.pkl'}",
            "-input", hdfs_in,
            "-output", hdfs_out,
            "-mapper", f"{command} map functions.pkl",
            "-reducer", f"{command} reduce functions.pkl",
            "-cmdenv", f"PYTHONPATH={python_path}",
        ]  # fmt: skip
        launched = time.time()
        proc = subprocess.run(
            self._java(STREAMING, args, log_level="INFO"),
            capture_output=True,
            text=True,
            errors="replace",
            env=self._client_env(),
            stdin=subprocess.DEVNULL,
        )
        log = proc.stderr
        found = _APP_ID.search(log)
        if found:
            info["application_id"] = found.group(1)
        job_id = re.search(r"Running job: (job_\d+_\d+)", log)
        if job_id:
            info["job_id"] = job_id.group(1)
        info.update(job_phases(log, launched))
        info.update(job_counters(log))
        if proc.returncode != 0:
            raise DistlabError(f"mapreduce job failed: {self._why_failed(log, info)}")

    def _why_failed(self, log: str, info: dict) -> str:
        app = info.get("application_id")
        where = f" ({app})" if app else ""
        # our task script's one line, from the containers' logs (the embedded cluster's
        # NodeManager keeps them in its directory)
        if app and self.cluster is not None and self.cluster.workdir:
            pattern = os.path.join(self.cluster.workdir, "**", app, "container_*", "stderr")
            for path in sorted(glob.glob(pattern, recursive=True)):
                try:
                    text = Path(path).read_text(errors="replace")
                except OSError:
                    continue
                for line in text.splitlines():
                    if line.startswith(task_module.ERROR_MARK):
                        return line[len(task_module.ERROR_MARK) :].strip() + where
        lines = log.splitlines()
        for marker in ("Error: ", "ERROR ", "Exception"):
            hits = [ln.strip() for ln in lines if marker in ln and "NativeCodeLoader" not in ln]
            if hits:
                hint = f"; its task logs: yarn logs -applicationId {app}" if app else ""
                return hits[0][:300] + where + hint
        return (_first_line(log[-500:]) or "no output") + where

    def _remove_later(self, hdfs_paths: list[str]) -> None:
        """Remove a job's HDFS directories in the background (not on the job's clock)."""
        if self.conf_dir is None:
            return
        try:
            proc = subprocess.Popen(
                self._java(FS_SHELL, ["-rm", "-r", "-f", "-skipTrash", *hdfs_paths]),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=self._client_env(),
            )
        except OSError:
            return
        with self._lock:
            self._cleanups.append(proc)

    def _reap_cleanups(self) -> None:
        self._cleanups = [p for p in self._cleanups if p.poll() is None]

    # -- observation ----------------------------------------------------------------------
    def job_info(self) -> dict[str, Any]:
        """The last job, for a cell's metrics: its YARN application id and job id, its HDFS
        input and output, the seconds of each step (put, submit, application master
        start, map phase, reduce phase, cat) and Hadoop's counters."""
        return dict(self.last_job)

    def process_roots(self) -> list[int]:
        pids = []
        if self.cluster is not None and self.cluster.pid is not None:
            pids.append(self.cluster.pid)  # its YARN containers are its children
        return pids

    def worker_pids(self) -> list[int]:
        """The YARN containers of ours running now: the map and reduce task JVMs first,
        then the MapReduce application master (YARN restarts a lost one, which recovers
        the job)."""
        if self.cluster is None or self.cluster.pid is None:
            return []
        tasks, masters = [], []
        for p in tree([self.cluster.pid]):
            try:
                cmdline = p.cmdline()
            except psutil.Error:
                continue
            if "org.apache.hadoop.mapred.YarnChild" in cmdline:
                tasks.append(p.pid)
            elif "org.apache.hadoop.mapreduce.v2.app.MRAppMaster" in cmdline:
                masters.append(p.pid)
        return tasks + masters

    def health(self) -> str | None:
        cluster = self.cluster
        if cluster is not None and not cluster.alive():
            return f"its Hadoop cluster (pid {cluster.pid}) is not running"
        return None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "address": self.address or "embedded",
            "workers": self.workers,
            "version": hadoop_version(),  # the client's jars (and the embedded cluster's)
            "server": self.server_version() if self.cluster else "the user's Hadoop cluster",
            "submission": "Hadoop Streaming jobs on YARN, input and output on HDFS",
            "python": self.python,
            "reduce_tasks": self.workers,
            "max_attempts": self.max_attempts,
        }
        if self.cluster is not None:
            out["start_method"] = "MiniHadoopClusterManager: HDFS + YARN in one JVM on 127.0.0.1"
            out.update(self.cluster.settings())
        else:
            out["start_method"] = "the user's Hadoop cluster"
        return out
