"""Flink (PyFlink): batch dataflow jobs and a streaming SQL job (distlab.engines.flink.stream)
on an embedded mini-cluster or a real cluster.

apache-flink cannot share the main environment (its pins clash: see
distlab.engines.flink.env), so this module is importable everywhere but pyflink is
imported only inside methods: the runner checks a Flink ``--address`` with
``FlinkEngine.check_address`` in the main environment, and ``interpreter()`` names Flink's
own python, where the runner runs Flink cells.

Built-in operators (``run_builtin``): :class:`~distlab.contracts.WordCount` in Flink SQL
(distlab.engines.flink.jobs). Dataframe queries: the shared SQL in batch mode over
Parquet tables (distlab.engines.flink.dataframe).

Embedded mode: PyFlink launches a gateway JVM (py4j, on loopback) that runs a local
mini-cluster when a job executes; its REST/RPC addresses are bound to 127.0.0.1. Python
UDFs run in Python worker processes the JVM starts (Beam's portability layer); Beam's
gRPC servers for them listen on all interfaces and no Flink setting confines them.
close() stops the gateway JVM and its children by PID.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import urllib.request
from collections.abc import Sequence
from typing import Any

import psutil

from distlab.contracts import (
    BatchEngine,
    BuiltinOp,
    DistlabError,
    StreamEngine,
    StreamResult,
    StreamSpec,
    WordCount,
)
from distlab.engines.common.addressing import endpoint, unreachable
from distlab.engines.flink import env as flink_env
from distlab.engines.flink import planner_thread
from distlab.engines.flink.dataframe import FlinkDataframe
from distlab.engines.flink.plugin import PLUGIN
from distlab.procs import split_host_port, stop_pids

DEFAULT_REST_PORT = 8081
#: an unreachable --address must fail well within ~10 s
CONNECT_TIMEOUT_S = 5.0
#: environment variables start() sets for the gateway JVM and restores on close()
_ENV_SET = ("FLINK_LOG_DIR", "LOG4J_PROPERTIES", "_python_worker_execution_mode", "JVM_ARGS")
#: the gateway JVM's logging: everything to its log file. PyFlink's own log4j-cli.properties
#: also copies org.apache.hadoop's INFO lines to the console, which the Parquet format's
#: Hadoop classes then print on every query ("Got brand-new decompressor").
LOG4J_PROPERTIES = """\
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FileAppender
appender.file.name = FileAppender
appender.file.type = FILE
appender.file.append = false
appender.file.fileName = ${sys:log.file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
logger.hadoop.name = org.apache.hadoop
logger.hadoop.level = WARN
"""


class FlinkEngine(BatchEngine, StreamEngine, FlinkDataframe):
    name = "flink"
    plugin = PLUGIN
    builtin_ops = frozenset({WordCount})
    address_help = "host:port of a Flink JobManager's REST endpoint (e.g. 127.0.0.1:8081)"
    server = "mini-cluster: JobManager and TaskManagers in one JVM"

    @classmethod
    def server_version(cls) -> str:
        return f"Apache Flink {flink_env.pinned_version('apache-flink')}"

    @classmethod
    def interpreter(cls) -> str | None:
        return flink_env.ensure()

    @classmethod
    def available(cls) -> bool:
        """Whether Flink's environment exists or can be created here."""
        return flink_env.available()

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        super().__init__(address=address, workers=workers, **options)
        self._t_env = None
        self._jvm_pids: list[int] = []
        self._log_dir: str | None = None
        #: environment variables as they were before start() set them (_ENV_SET)
        self._saved_env: dict[str, str | None] = {}

    # -- lifecycle -------------------------------------------------------------------
    @classmethod
    def check_address(cls, address: str) -> None:
        """host:port of a JobManager whose REST endpoint answers (plain HTTP: no pyflink
        needed, so the runner checks it in the main environment)."""
        host, port = endpoint(cls.name, address, DEFAULT_REST_PORT, "host:port (Flink REST)")
        url = f"http://{host}:{port}/v1/overview"
        try:
            with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S) as reply:
                reply.read()
        except Exception as exc:
            raise unreachable(
                cls.name,
                address,
                f"no Flink JobManager REST endpoint at {host}:{port}: {exc.__class__.__name__}",
            ) from None

    def settings(self) -> dict[str, str]:
        """The Flink configuration every job of this engine runs with (parallelism, the
        cluster's REST address or the mini-cluster's loopback bindings, the pythons)."""
        settings = {
            "parallelism.default": str(self.workers),
            "python.client.executable": sys.executable,
        }
        if self.address:
            host, port = split_host_port(self.address, DEFAULT_REST_PORT)
            settings.update({"execution.target": "remote", "rest.address": host})
            settings["rest.port"] = str(port)
            # The cluster's task managers run the UDFs with their own python.
            if self.options["python_executable"]:
                settings["python.executable"] = self.options["python_executable"]
        else:
            settings.update(
                {
                    "python.executable": sys.executable,
                    "rest.bind-address": "127.0.0.1",
                    "rest.address": "127.0.0.1",
                    "jobmanager.rpc.address": "127.0.0.1",
                    "taskmanager.host": "127.0.0.1",
                    "jobmanager.bind-host": "127.0.0.1",
                    "taskmanager.bind-host": "127.0.0.1",
                }
            )
            if self._log_dir:
                # the mini-cluster's working directories and the RPC jar it unpacks go to
                # our directory, removed at close, not to /tmp for good; so does the
                # upload folder of its REST endpoint (else /tmp/flink-web-upload)
                settings["io.tmp.dirs"] = self._log_dir
                settings["web.upload.dir"] = self._log_dir
        settings.update({k: str(v) for k, v in self.options["flink_conf"].items()})
        return settings

    def _start(self) -> None:
        if self.address:
            self.check_address(self.address)
        from pyflink import java_gateway

        if java_gateway._gateway is not None:
            raise DistlabError("one Flink engine per process: close the other one first")
        self._launch()

    def _launch(self) -> None:
        from pyflink.java_gateway import get_gateway

        # The gateway JVM inherits the environment: its logs (and its mini-cluster's
        # temporary files, settings()) go to a directory of ours.
        self._log_dir = tempfile.mkdtemp(prefix="distlab-flink-logs-")
        self._saved_env = {k: os.environ.get(k) for k in _ENV_SET}
        os.environ["FLINK_LOG_DIR"] = self._log_dir
        log4j = os.path.join(self._log_dir, "log4j.properties")
        with open(log4j, "w") as out:
            out.write(LOG4J_PROPERTIES)
        os.environ["LOG4J_PROPERTIES"] = log4j
        # the JVM's own scratch too (the table planner's jar, native libraries it unpacks):
        # in our directory, so a JVM stopped before its exit hooks ran leaves nothing behind
        jvm_args = self._saved_env.get("JVM_ARGS") or ""
        os.environ["JVM_ARGS"] = f"{jvm_args} -Djava.io.tmpdir={self._log_dir}".strip()
        # Python UDFs in worker processes the JVM starts (so close() stops them with it),
        # not PyFlink's default "loopback" for mini-clusters: that runs every UDF in threads
        # of this process (one GIL for all workers) behind a gRPC server on [::] that lives
        # until the interpreter exits.
        os.environ["_python_worker_execution_mode"] = "process"
        before = {p.pid for p in psutil.Process().children()}
        try:
            get_gateway()
        finally:
            self._jvm_pids = [p.pid for p in psutil.Process().children() if p.pid not in before]
        self._t_env = self._new_table_env()

    def _new_table_env(self) -> Any:
        from pyflink.common import Configuration
        from pyflink.table import EnvironmentSettings, TableEnvironment

        config = Configuration()
        for key, value in self.settings().items():
            config.set_string(key, value)
        settings = EnvironmentSettings.new_instance().in_batch_mode().with_configuration(config)
        return planner_thread.built(TableEnvironment.create(settings.build()))

    def close(self) -> None:
        self._t_env = None
        try:
            from pyflink import java_gateway
        except ImportError:
            java_gateway = None
        if self._jvm_pids:
            # By PID first (the JVM, its mini-cluster and the Python UDF workers it
            # started); asking it over py4j could block if it hangs.
            stop_pids(self._jvm_pids)
            self._jvm_pids = []
            if java_gateway is not None and java_gateway._gateway is not None:
                try:
                    # Local side only: py4j connections and the callback server.
                    java_gateway._gateway.close(keep_callback_server=False)
                except Exception:
                    pass
                java_gateway._gateway = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        if self._log_dir:
            shutil.rmtree(self._log_dir, ignore_errors=True)
            self._log_dir = None
        self.started = False

    # -- batch -------------------------------------------------------------------------
    def _env(self):
        """The engine's own TableEnvironment, its next call on the JVM thread that built it
        (see planner_thread)."""
        if not self.started:
            self.start()
        if not planner_thread.on_own_connection(self._t_env):
            self._t_env = self._new_table_env()
        return self._t_env

    def map_reduce(self, paths: Sequence[str], mapper, reducer) -> dict[Any, Any]:
        from distlab.engines.flink import jobs as flink_jobs

        return flink_jobs.map_reduce(self._env(), _absolute(paths), mapper, reducer)

    def run_builtin(self, op: BuiltinOp) -> Any:
        match op:
            case WordCount(paths=paths):
                from distlab.engines.flink import jobs as flink_jobs

                return flink_jobs.wordcount(self._env(), _absolute(paths))
        raise NotImplementedError(f"flink has no built-in {type(op).__name__}")

    # -- streams -------------------------------------------------------------------------
    def run_stream(self, spec: StreamSpec) -> StreamResult:
        """The stream contract (distlab.contracts.streams) as a Flink SQL job between
        Kafka topics; see distlab.engines.flink.stream."""
        from distlab.engines.flink.stream import run_on_flink

        return run_on_flink(self, spec)

    # -- observation -------------------------------------------------------------------
    def worker_pids(self) -> list[int]:
        return list(self._jvm_pids)

    def process_roots(self) -> list[int]:
        return list(self._jvm_pids)

    def health(self) -> str | None:
        """The gateway JVM runs the mini-cluster: once it is gone (a killed "worker"),
        every later job would fail until the engine is restarted."""
        for pid in self._jvm_pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    continue
            except psutil.Error:
                pass
            return f"the Flink gateway JVM (pid {pid}) is gone: its mini-cluster went with it"
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.address or "embedded",
            "workers": self.workers,
            "mode": "remote" if self.address else "mini-cluster",
            "interface": self.interface,
            "python": sys.executable,
        }


def _absolute(paths: Sequence[str]) -> list[str]:
    if isinstance(paths, str):
        paths = [paths]
    return [os.path.abspath(p) for p in paths]
