"""The Hadoop client side of the mapreduce engine: how a user's cluster is addressed (a
client configuration directory or ``hdfs://NN:PORT,RM:PORT``) and what a job's client
log says (the time of each phase, Hadoop's counters)."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from distlab.contracts import EngineStartError
from distlab.engines.common import addressing
from distlab.services.hadoop_client import SITE_FILES, read_configuration, write_client_conf

NAMENODE_PORT = 8020
RESOURCEMANAGER_PORT = 8032
#: attempts per task: one retry survives a lost container, a broken function fails fast
COUNTERS = {
    "Launched map tasks": "map_tasks",
    "Launched reduce tasks": "reduce_tasks",
    "Failed map tasks": "failed_map_tasks",
    "Failed reduce tasks": "failed_reduce_tasks",
    "Total time spent by all map tasks (ms)": "map_tasks_ms",
    "Total time spent by all reduce tasks (ms)": "reduce_tasks_ms",
    "CPU time spent (ms)": "task_cpu_ms",
    "GC time elapsed (ms)": "task_gc_ms",
    "Map input records": "map_input_records",
    "Map output records": "map_output_records",
    "Reduce input groups": "reduce_input_groups",
    "Reduce shuffle bytes": "shuffle_bytes",
    "HDFS: Number of bytes read": "hdfs_bytes_read",
    "HDFS: Number of bytes written": "hdfs_bytes_written",
}
_COUNTER = re.compile(r"^\s+(.+?)=(\d+)\s*$")
_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


class ClientConf:
    """Where a user's cluster is, from ``--address``: a client configuration directory,
    or ``hdfs://NAMENODE:PORT,RESOURCEMANAGER:PORT``."""

    def __init__(self, address: str):
        self.address = address
        text = address.strip()
        self.conf_dir: Path | None = None
        if os.path.isdir(os.path.expanduser(text)):
            self.conf_dir = Path(os.path.expanduser(text)).resolve()
            props: dict[str, str] = {}
            for name in SITE_FILES:
                if (self.conf_dir / name).is_file():
                    try:
                        props.update(read_configuration(self.conf_dir / name))
                    except Exception as exc:
                        raise EngineStartError(
                            f"--address mapreduce={address!r}: cannot read {name}: {exc}"
                        ) from None
            self.namenode = self._namenode(props)
            self.resourcemanager = self._resourcemanager(props)
            return
        form = "a Hadoop configuration directory or hdfs://NAMENODE:PORT,RESOURCEMANAGER:PORT"
        parts = [p.strip() for p in text.split("://", 1)[-1].split(",") if p.strip()]
        if len(parts) != 2:
            raise EngineStartError(f"--address mapreduce={address!r}: expected {form}")
        self.namenode = addressing.endpoint("mapreduce", parts[0], NAMENODE_PORT, form)
        self.resourcemanager = addressing.endpoint(
            "mapreduce", parts[1], RESOURCEMANAGER_PORT, form
        )

    @staticmethod
    def _namenode(props: dict[str, str]) -> tuple[str, int]:
        fs = props.get("fs.defaultFS") or props.get("fs.default.name") or ""
        if not fs.startswith("hdfs://"):
            raise EngineStartError(f"the configuration's fs.defaultFS is not HDFS: {fs!r}")
        authority = fs[len("hdfs://") :].split("/", 1)[0]
        if ":" in authority:
            return addressing.endpoint("mapreduce", authority, NAMENODE_PORT, "hdfs://HOST:PORT")
        # a nameservice (HA): its first NameNode's RPC address
        ids = props.get(f"dfs.ha.namenodes.{authority}", "").split(",")
        rpc = (
            props.get(f"dfs.namenode.rpc-address.{authority}.{ids[0].strip()}") if ids[0] else None
        )
        return addressing.endpoint("mapreduce", rpc or authority, NAMENODE_PORT, "HOST:PORT")

    @staticmethod
    def _resourcemanager(props: dict[str, str]) -> tuple[str, int]:
        host = props.get("yarn.resourcemanager.hostname", "0.0.0.0")
        rm_ids = [i.strip() for i in props.get("yarn.resourcemanager.ha.rm-ids", "").split(",")]
        if props.get("yarn.resourcemanager.ha.enabled") == "true" and rm_ids[0]:
            rid = rm_ids[0]
            host = props.get(f"yarn.resourcemanager.hostname.{rid}", host)
            value = props.get(f"yarn.resourcemanager.address.{rid}", f"{host}:8032")
        else:
            value = props.get("yarn.resourcemanager.address", f"{host}:8032")
        value = value.replace("${yarn.resourcemanager.hostname}", host)
        return addressing.endpoint("mapreduce", value, RESOURCEMANAGER_PORT, "HOST:PORT")

    def check(self) -> None:
        for what, (host, port) in (
            ("NameNode", self.namenode),
            ("ResourceManager", self.resourcemanager),
        ):
            addressing.require_answer(
                "mapreduce",
                self.address,
                host,
                port,
                why=f"nothing answers on {host}:{port}, its {what}",
            )

    def write(self, directory: Path) -> Path:
        """The client configuration directory to use: the user's own, or one written."""
        if self.conf_dir is not None:
            return self.conf_dir
        (nn_host, nn_port), (rm_host, rm_port) = self.namenode, self.resourcemanager
        write_client_conf(
            directory,
            {
                "fs.defaultFS": f"hdfs://{nn_host}:{nn_port}",
                "mapreduce.framework.name": "yarn",
                "yarn.resourcemanager.hostname": rm_host,
                "yarn.resourcemanager.address": f"{rm_host}:{rm_port}",
            },
        )
        return directory


def job_phases(log: str, launched: float) -> dict[str, float]:
    """Where the job's time went, from the client's log timestamps: submission (client
    JVM, staging, splits), the application master's start, the map phase, the reduce
    phase (its end: the job's completion)."""
    marks: dict[str, float] = {}
    for line in log.splitlines():
        stamp = _LOG_TIME.match(line)
        if not stamp:
            continue
        try:
            t = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        except ValueError:
            continue
        if "Submitted application" in line:
            marks.setdefault("submitted", t)
        elif "running in uber mode" in line:
            marks.setdefault("running", t)
        elif " map 100%" in line:
            marks.setdefault("maps_done", t)
        elif re.search(r"Job job_\S+ (completed successfully|failed)", line):
            marks.setdefault("done", t)
    out: dict[str, float] = {}
    steps = (
        ("submit_s", launched, marks.get("submitted")),
        ("am_start_s", marks.get("submitted"), marks.get("running")),
        ("map_phase_s", marks.get("running"), marks.get("maps_done")),
        ("reduce_phase_s", marks.get("maps_done"), marks.get("done")),
    )
    for name, a, b in steps:
        if a is not None and b is not None:
            out[name] = round(max(0.0, b - a), 3)
    return out


def job_counters(log: str) -> dict[str, int]:
    out: dict[str, int] = {}
    in_counters = False
    for line in log.splitlines():
        if "Counters:" in line:
            in_counters = True
            continue
        if in_counters:
            m = _COUNTER.match(line)
            if m and m.group(1).strip() in COUNTERS:
                out[COUNTERS[m.group(1).strip()]] = int(m.group(2))
    return out
