"""Apache Spark through PySpark: tasks via the RDD API, batch via RDDs and DataFrames,
streams via Structured Streaming (distlab.engines.spark.stream), dataframe queries via
Spark SQL or the DataFrame API (distlab.engines.spark.dataframe).

Embedded mode runs ``local[workers]`` in a JVM that PySpark launches as a child of this
process (the py4j gateway); ``address="spark://host:port"`` joins a standalone master.
Everything the embedded JVM opens listens on 127.0.0.1.

Built-in operators (``run_builtin``): :class:`~distlab.contracts.WordCount` with
DataFrame column functions only (no Python per row).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pyspark
from pyspark import SparkConf, SparkContext
from pyspark.java_gateway import launch_gateway
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from distlab.contracts import (
    BatchEngine,
    BuiltinOp,
    DistlabError,
    EngineStartError,
    Future,
    StreamEngine,
    StreamResult,
    StreamSpec,
    TaskEngine,
    WordCount,
    apply_chunk,
    chunked,
)
from distlab.engines.common.addressing import endpoint, require_answer
from distlab.engines.spark.dataframe import INTERFACES, SparkDataframe
from distlab.engines.spark.plugin import PLUGIN
from distlab.engines.spark.stream import kafka_connector_jars
from distlab.engines.spark.tasks import (
    collect,
    job_error,
    jvm_fatal,
    raise_if_failed,
    run_task,
    warm,
)
from distlab.procs import split_host_port, stop_pids, tree

_LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
_LOOPBACK = "127.0.0.1"
_MASTER_DEFAULT_PORT = 7077
#: a task killed with its Python worker (fault injection) is retried this many times in
#: embedded mode, as a cluster would (plain local[N] never retries)
_LOCAL_TASK_ATTEMPTS = 4

# Python's str.split() breaks on every character for which str.isspace() is true; Java's
# \s knows only six of them. The built-in word count splits on exactly Python's set (a
# test checks this list against str.isspace), so both pipelines count identically.
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_PY_WHITESPACE_RUN = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in PY_WHITESPACE) + "]+"


class SparkEngine(TaskEngine, BatchEngine, StreamEngine, SparkDataframe):
    name = "spark"
    plugin = PLUGIN
    supports_shared_objects = True
    address_help = "spark://host:port (a standalone master); default: embedded local[workers]"
    server = "local mode: driver and executors in one JVM"
    data_path = {
        "argument": "cloudpickled into the task by the driver; the JVM hands it to the "
        "executor's Python worker over a local socket",
        "result": "pickled by the Python worker, collected through the JVM driver",
        "shared": "sc.broadcast: written once by the driver; executors fetch it and Python "
        "workers read it from a file",
    }

    @classmethod
    def server_version(cls) -> str:
        return f"Apache Spark {pyspark.__version__}"

    builtin_ops = frozenset({WordCount})

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        super().__init__(address, workers, **options)
        self.interface = INTERFACES[self.options["interface"]]
        self._spark: SparkSession | None = None
        self._sc: SparkContext | None = None
        self._gateway: Any = None  # the py4j gateway of the JVM this engine launched
        self._pool: ThreadPoolExecutor | None = None
        self._jvm_pid: int | None = None
        self._log_dir: str | None = None
        self._log_path: str | None = None
        self._lock = threading.Lock()
        self.kafka_jars: list[Path] = []
        self.kafka_jars_missing: str | None = "the engine is not started"

    # -- lifecycle -------------------------------------------------------------------
    @classmethod
    def check_address(cls, address: str) -> None:
        """spark://host:port of a standalone master answering there (``local[...]``
        masters are taken as they are)."""
        if address.startswith("local"):
            return
        if not address.startswith("spark://"):
            raise EngineStartError(
                f"spark address must look like spark://host:port, got {address!r}"
            )
        host, port = endpoint(cls.name, address, _MASTER_DEFAULT_PORT, "spark://host:port")
        # A TCP check first: Spark itself would retry an absent master for a minute.
        require_answer(
            cls.name, address, host, port, 5.0, f"no Spark master reachable at {host}:{port}"
        )

    @property
    def session(self) -> SparkSession:
        """The engine's SparkSession (DataFrames, Structured Streaming)."""
        if self._spark is None:
            raise DistlabError("the spark engine is not started")
        return self._spark

    def _master(self) -> str:
        if not self.address:
            return f"local[{self.workers},{_LOCAL_TASK_ATTEMPTS}]"
        self.check_address(self.address)
        return self.address

    def _on_loopback(self) -> bool:
        if not self.address or self.address.startswith("local"):
            return True
        host, _ = split_host_port(self.address, _MASTER_DEFAULT_PORT)
        return host in ("127.0.0.1", "localhost", "::1")

    def _start(self) -> None:
        master = self._master()
        if SparkContext._active_spark_context is not None:
            raise EngineStartError(
                "a Spark engine is already running in this process (one SparkContext per "
                "process): close it first"
            )
        # Workers must run this interpreter (with distlab and the user's packages), not
        # whatever python is first on PATH.
        # On a cluster a PYSPARK_PYTHON the user set (the nodes' interpreter) is kept.
        if not self.address or "PYSPARK_PYTHON" not in os.environ:
            os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
        conf = (
            SparkConf()
            .setMaster(master)
            .setAppName("distlab")
            .set("spark.ui.enabled", "false")
            .set("spark.ui.showConsoleProgress", "false")
            .set("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={_LOG_CONFIG}")
            .set("spark.sql.shuffle.partitions", str(max(2, self.workers * 2)))
        )
        if self._on_loopback():
            # A driver on a remote cluster must be reachable from its executors, so the
            # loopback binding applies only to embedded mode and a master on this machine.
            os.environ["SPARK_LOCAL_IP"] = _LOOPBACK
            conf.set("spark.driver.host", _LOOPBACK).set("spark.driver.bindAddress", _LOOPBACK)
        if not self.address:
            # Local Python workers see the driver's import path (e.g. modules next to a
            # script or a test file), as cloudpickle sends importable functions by name.
            conf.set("spark.executorEnv.PYTHONPATH", os.pathsep.join(p for p in sys.path if p))
        # Spark's Kafka source and sink (for the stream workload), from the JVM parts' cache
        self.kafka_jars, self.kafka_jars_missing = kafka_connector_jars()
        if self.kafka_jars:
            conf.set("spark.jars", ",".join(str(j) for j in self.kafka_jars))
        self._own_local_dir(conf)  # shuffle and spill files, sampled by the bench
        for key, value in self.options["conf"].items():
            conf.set(key, str(value))
        try:
            # The JVM's own output (a module warning on every start, fatal errors) goes to
            # a log file rather than the user's terminal; start failures quote it.
            self._log_dir = tempfile.mkdtemp(prefix="distlab-spark-")
            self._log_path = os.path.join(self._log_dir, "jvm.log")
            with open(self._log_path, "wb") as log:
                gateway = launch_gateway(conf, popen_kwargs={"stdout": log, "stderr": log})
            self._gateway = gateway
            proc = getattr(gateway, "proc", None)
            self._jvm_pid = proc.pid if proc is not None else None
            self._sc = SparkContext(conf=conf, gateway=gateway)
            self._spark = SparkSession(self._sc)
            self._pool = ThreadPoolExecutor(
                max_workers=max(4, 2 * self.workers), thread_name_prefix="distlab-spark"
            )
            # Warm-up: the first job starts the Python worker daemon and JIT-compiles the
            # scheduler path. Doing it here keeps start-up cost (timed by the caller around
            # start()) out of every later measurement.
            warming = self._pool.submit(
                lambda: (
                    self._sc.parallelize(range(self.workers), self.workers)
                    .map(lambda _: warm())
                    .collect()
                )
            )
            warming.result(timeout=self.options["start_timeout"])
        except Exception as exc:
            if isinstance(exc, DistlabError):
                raise
            # What the JVM logged says why (read here: close() removes the log).
            jvm_said = self._jvm_error_line()
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            reason = f"{first} ({jvm_said})" if jvm_said else first
            raise EngineStartError(f"spark did not start at {master}: {reason}") from None

    def _jvm_error_line(self) -> str:
        """The last error the JVM logged, if any (for a one-line start failure)."""
        try:
            lines = Path(self._log_path or "").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        errors = [ln.strip() for ln in lines if "ERROR" in ln or "Exception" in ln]
        return errors[-1][:300] if errors else ""

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            spark, self._spark = self._spark, None
            sc, self._sc = self._sc, None
            jvm_pid, self._jvm_pid = self._jvm_pid, None
            # Only the gateway this engine launched: a start refused because another
            # engine's SparkContext is active must leave that one alone.
            gateway, self._gateway = self._gateway, None
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            jvm_tree = [p.pid for p in tree([jvm_pid])] if jvm_pid else []
            if spark is not None:
                with contextlib.suppress(Exception):
                    spark.stop()
            # a dead JVM fails stop(): forget the context, or Spark could never start again
            if sc is not None and SparkContext._active_spark_context is sc:
                SparkContext._active_spark_context = None
            if spark is not None and SparkSession._instantiatedSession is spark:
                SparkSession._instantiatedSession = None
            if gateway is not None:
                # The gateway JVM exits when its stdin closes. Stop it before closing
                # py4j: with Python callbacks in use (Structured Streaming's foreachBatch)
                # py4j's close can wait forever on connections the JVM still holds.
                proc = getattr(gateway, "proc", None)
                if proc is not None and proc.stdin:
                    with contextlib.suppress(Exception):
                        proc.stdin.close()
                    with contextlib.suppress(Exception):
                        proc.wait(timeout=10)
            if jvm_tree:
                stop_pids(jvm_tree)
            if gateway is not None:
                # the next start() must launch a fresh JVM: clear PySpark's process-wide handles
                closer = threading.Thread(target=gateway.close, daemon=True)
                closer.start()
                closer.join(timeout=10)
                if SparkContext._gateway is gateway:
                    SparkContext._gateway = None
                    SparkContext._jvm = None
            if pool is not None:
                pool.shutdown(wait=True)
            log_dir, self._log_dir = self._log_dir, None
            if log_dir:
                shutil.rmtree(log_dir, ignore_errors=True)
            self._drop_local_dir()
            self.started = False

    def health(self) -> str | None:
        """Why the engine cannot go on: its JVM failed (out of heap: local mode's driver,
        executors included, has spark.driver.memory, 1g by default) or exited."""
        fatal = jvm_fatal(self._log_path) if self.started and self._sc is not None else None
        if fatal:
            memory = self.options["conf"].get("spark.driver.memory", "1g")
            return (
                f"the Spark JVM failed with {fatal} (spark.driver.memory {memory}; more "
                "with conf={'spark.driver.memory': '4g'}): the SparkContext is gone"
            )
        proc = getattr(self._gateway, "proc", None) if self.started else None
        if proc is not None and proc.poll() is not None:
            return f"the Spark JVM exited with {proc.returncode}"
        return None

    # -- tasks -----------------------------------------------------------------------
    def _require(self) -> SparkContext:
        if self._sc is None:
            raise DistlabError("the spark engine is not started")
        return self._sc

    def submit_with(self, fn, args=(), kwargs=None, *, resources=None) -> Future:
        if resources:
            raise DistlabError("the spark engine does not schedule tasks by named resources")
        sc = self._require()
        kwargs = kwargs or {}

        # fn and its arguments travel in the task's closure (not as RDD data), so
        # Broadcast handles among them are resolved by Spark on the executor.
        def one_task() -> Any:
            rdd = sc.parallelize([0], 1).map(lambda _: run_task(fn, args, kwargs))
            [value] = collect(rdd, self.health)
            return raise_if_failed(value)

        assert self._pool is not None
        return self._pool.submit(one_task)

    def map(
        self, fn: Callable[[Any], Any], items: Iterable[Any], *, chunksize: int | None = None
    ) -> list[Any]:
        """One Spark job: one task per item (or per chunk), results in order."""
        sc = self._require()
        items = list(items)
        if not items:
            return []
        if self.task_log is not None:  # a fault is injected: every task recorded
            return super().map(fn, items, chunksize=chunksize)
        if chunksize and chunksize > 1:
            chunks = chunked(items, chunksize)
            values = collect(
                sc.parallelize(chunks, len(chunks)).map(
                    lambda chunk: run_task(apply_chunk, (fn, chunk), {})
                ),
                self.health,
            )
            return [r for part in values for r in raise_if_failed(part)]
        rdd = sc.parallelize(items, len(items)).map(lambda x: run_task(fn, (x,), {}))
        values = collect(rdd, self.health)
        return [raise_if_failed(v) for v in values]

    def share(self, obj: Any) -> Any:
        return self._require().broadcast(obj)

    def native_noop_tasks(self, n: int) -> list[Any]:
        from distlab.probes import noop

        # PySpark's own API: one job, one task per item, as map() above but unwrapped
        return self._require().parallelize(range(n), n).map(noop).collect()

    # -- batch -------------------------------------------------------------------------
    def map_reduce(self, paths, mapper, reducer) -> dict[Any, Any]:
        sc = self._require()
        try:
            return (
                sc.textFile(",".join(str(p) for p in paths))
                .flatMap(mapper)
                .reduceByKey(reducer)
                .collectAsMap()
            )
        except Exception as exc:
            raise job_error(exc) from exc

    def run_builtin(self, op: BuiltinOp) -> Any:
        match op:
            case WordCount(paths=paths):
                return self._word_count([str(p) for p in paths])
        raise NotImplementedError(f"spark has no built-in {type(op).__name__}")

    def _word_count(self, paths: list[str]) -> dict[str, int]:
        # Only built-in column functions: no Python runs per row.
        words = self.session.read.text(paths).select(
            F.explode(F.split(F.col("value"), _PY_WHITESPACE_RUN)).alias("word")
        )
        counts = words.where(F.col("word") != "").groupBy("word").count()
        return {row["word"]: row["count"] for row in counts.collect()}

    # -- streams -----------------------------------------------------------------------
    def run_stream(self, spec: StreamSpec) -> StreamResult:
        """The stream contract (distlab.contracts.streams) on Structured Streaming; see
        distlab.engines.spark.stream."""
        from distlab.engines.spark.stream import run_on_spark

        return run_on_spark(self, spec)

    # -- observation -------------------------------------------------------------------
    def worker_pids(self) -> list[int]:
        """The Python daemon and its forked workers (children of the JVM)."""
        if not self._jvm_pid:
            return []
        out = []
        for p in tree([self._jvm_pid]):
            with contextlib.suppress(psutil.Error):
                if p.pid != self._jvm_pid and "pyspark" in " ".join(p.cmdline()):
                    out.append(p.pid)
        return out

    def process_roots(self) -> list[int]:
        return [self._jvm_pid] if self._jvm_pid else []

    def describe(self) -> dict[str, Any]:
        sc = self._sc
        return {
            "address": self.address or "embedded",
            "master": sc.master if sc is not None else None,
            "workers": self.workers,
            "interface": self.interface,
            "version": pyspark.__version__,
            "start_method": "py4j gateway JVM (spark-submit) + forked Python worker daemon",
        }
