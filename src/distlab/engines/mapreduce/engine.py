"""Hadoop-style MapReduce through mrjob: batch jobs only.

``map_reduce`` runs a real MRJob (distlab.engines.mapreduce.job) whose mapper, combiner
and reducer call the given Python functions. Embedded, mrjob's ``local`` runner mimics
Hadoop Streaming on this machine: input splits, one subprocess per map/reduce task
(``workers`` at a time), a sort between the phases. No server, no port.

``address`` picks another mrjob runner for a real cluster:
  * ``hadoop``: a Hadoop cluster, through the ``hadoop`` command and its streaming jar
    (HADOOP_HOME or PATH). No Hadoop is installable on a machine without it.
  * ``emr`` / ``dataproc``: a cloud cluster; needs mrjob's extras (boto3 or the Google
    Cloud clients) and mrjob's own configuration for credentials.
  * ``inline``: one process, no subprocesses (for debugging a mapper).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import cloudpickle

from distlab.contracts import BatchEngine, DistlabError, EngineStartError

# mrjob 0.7 imports the `pipes` module, deprecated in 3.11 (removed in 3.13): harmless here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import mrjob
    from mrjob.step import StepFailedException

    from distlab.engines.mapreduce.job import MRFunctionJob

_RUNNERS = ("local", "inline", "hadoop", "emr", "dataproc")
_CLOUD_CLIENTS = {
    "emr": ("boto3", "pip install 'mrjob[aws]'"),
    "dataproc": ("google.cloud.dataproc_v1", "pip install 'mrjob[google]'"),
}


def _hadoop_command() -> str | None:
    for var in ("HADOOP_PREFIX", "HADOOP_HOME", "HADOOP_INSTALL"):
        home = os.environ.get(var)
        if home and os.access(os.path.join(home, "bin", "hadoop"), os.X_OK):
            return os.path.join(home, "bin", "hadoop")
    return shutil.which("hadoop")


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


class _Collect(logging.Handler):
    """Keeps mrjob's error log lines (the task's traceback) for a one-line error."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.lines.extend(record.getMessage().splitlines())


class MapReduceEngine(BatchEngine):
    name = "mapreduce"
    address_help = "an mrjob runner: hadoop | emr | dataproc | inline (default: local)"

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        super().__init__(address, workers, **options)
        self.runner = "local"
        self._tmp_root: str | None = None
        self._lock = threading.Lock()

    @staticmethod
    def _runner(address: str) -> str:
        return address.strip().lower().removeprefix("-r").strip()

    @classmethod
    def check_address(cls, address: str) -> None:
        """An mrjob runner name whose prerequisites are here (no TCP check: the hadoop
        runner finds its cluster through the ``hadoop`` command, the cloud runners
        through their clients' own configuration)."""
        runner = cls._runner(address)
        if runner not in _RUNNERS:
            raise EngineStartError(
                f"mapreduce address must be an mrjob runner ({', '.join(_RUNNERS)}), "
                f"got {address!r}"
            )
        if runner == "hadoop" and _hadoop_command() is None:
            raise EngineStartError(
                "the hadoop runner needs a Hadoop cluster and its `hadoop` command "
                "(HADOOP_HOME or PATH); none found on this machine"
            )
        if runner in _CLOUD_CLIENTS and not _has_module(_CLOUD_CLIENTS[runner][0]):
            module, hint = _CLOUD_CLIENTS[runner]
            raise EngineStartError(f"the {runner} runner needs {module}: {hint}")

    def _start(self) -> None:
        if self.address:
            self.check_address(self.address)
            self.runner = self._runner(self.address)
        # Every job's scratch files (splits, sorted map output, task logs) live here and
        # go with close().
        self._tmp_root = tempfile.mkdtemp(prefix="distlab-mapreduce-")

    def close(self) -> None:
        # Jobs run synchronously in map_reduce and mrjob joins its task processes (also
        # on failure), so only the scratch directory can remain.
        with self._lock:
            tmp_root, self._tmp_root = self._tmp_root, None
        if tmp_root:
            shutil.rmtree(tmp_root, ignore_errors=True)
        self.started = False

    def _job_args(self, functions_path: str, paths) -> list[str]:
        args = [
            "--no-conf",
            "-r",
            self.runner,
            "--functions",
            functions_path,
            "--jobconf",
            f"mapreduce.job.reduces={self.workers}",
        ]
        if self.runner in ("local", "inline"):
            # Task processes import what the driver can (modules next to a script or a
            # test file): cloudpickle sends importable functions by name.
            python_path = os.pathsep.join(p for p in sys.path if p)
            args += [
                "--local-tmp-dir",
                str(self._tmp_root),
                "--cmdenv",
                f"PYTHONPATH={python_path}",
            ]
        if self.runner == "local":
            args += ["--num-cores", str(self.workers)]
        return args + [str(p) for p in paths]

    def map_reduce(self, paths, mapper, reducer) -> dict[Any, Any]:
        if not self.started or self._tmp_root is None:
            raise DistlabError("the mapreduce engine is not started")
        job_dir = tempfile.mkdtemp(prefix="job-", dir=self._tmp_root)
        functions_path = os.path.join(job_dir, "functions.pkl")
        Path(functions_path).write_bytes(cloudpickle.dumps((mapper, reducer)))
        job = MRFunctionJob(self._job_args(functions_path, paths))
        # mrjob logs every step at INFO and the failing task's traceback at ERROR: keep
        # the traceback for the error message, keep the terminal quiet.
        log = logging.getLogger("mrjob")
        collect = _Collect()
        saved = log.propagate
        log.addHandler(collect)
        log.propagate = False
        try:
            with job.make_runner() as runner:
                runner.run()
                return dict(job.parse_output(runner.cat_output()))
        except StepFailedException as exc:
            cause = [ln.strip() for ln in collect.lines if "Error" in ln or "Exception" in ln]
            detail = cause[-1] if cause else str(exc)
            raise DistlabError(f"mapreduce job failed: {detail}") from None
        finally:
            log.removeHandler(collect)
            log.propagate = saved
            shutil.rmtree(job_dir, ignore_errors=True)

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.address or "embedded",
            "runner": self.runner,
            "workers": self.workers,
            "version": mrjob.__version__,
            "start_method": "mrjob runner: one subprocess per map/reduce task"
            if self.runner == "local"
            else f"mrjob {self.runner} runner",
        }
