"""Flink across the test hosts as a standalone session cluster, started by Flink's own
launcher (``bin/jobmanager.sh`` and ``bin/taskmanager.sh start-foreground`` of the PyFlink
distribution in Flink's environment): a JobManager on the server host and a TaskManager
per worker host offering its share of task slots, each bound to its
host's address. The driver's engine on h0 submits its jobs to the JobManager's REST
endpoint (``--address``); the TaskManagers run the Python UDFs with Flink's environment.

Without netem only the driver's REST link can be delayed (a proxy in front of it): the
TaskManagers reach the JobManager's RPC and each other's data ports directly."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from distlab.engines.flink import env as flink_env
from distlab.hosts.deploy import Deployment, build, carried, wait_for_json, wait_for_port
from distlab.hosts.netns import Host, TestHosts

REST_PORT = 8081
RPC_PORT = 6123
#: each JVM's whole memory: several share one machine here
JOBMANAGER_MEMORY = "1g"
TASKMANAGER_MEMORY = "1280m"


def deploy(hosts: TestHosts, workers: int) -> Deployment:
    return build("flink", hosts, workers, _start)


def _flink_home(python: str) -> Path:
    """The Flink distribution inside PyFlink (its bin/, lib/ and conf/)."""
    out = subprocess.run(
        [python, "-c", "import os, pyflink; print(os.path.dirname(pyflink.__file__))"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return Path(out.stdout.strip())


def _launch(home: Path, script: str, settings: dict[str, str]) -> list[str]:
    """Flink's own start script in the foreground (it sizes the JVM from the settings)."""
    argv = [str(home / "bin" / script), "start-foreground"]
    for key, value in settings.items():
        argv += ["-D", f"{key}={value}"]
    return argv


def _lib(home: Path, scratch: Path) -> Path:
    """Flink's lib/ plus flink-python from opt/: a cluster that runs Python UDFs needs
    it on its classpath (Flink's docs: copy it into lib/), here as links in a lib/ of the
    deployment's own, the PyFlink installation left as it is."""
    lib = scratch / "lib"
    lib.mkdir()
    for jar in [*(home / "lib").glob("*.jar"), *(home / "opt").glob("flink-python*.jar")]:
        (lib / jar.name).symlink_to(jar)
    return lib


def _env(home: Path, conf: Path, dep: Deployment, host: Host) -> dict[str, str]:
    tmp = conf.parent / f"tmp-{host.name}"  # the JVM's scratch (its RPC jar, blobs)
    tmp.mkdir(exist_ok=True)
    return {
        "JVM_ARGS": f"-Djava.io.tmpdir={tmp}",
        "FLINK_HOME": str(home),
        "FLINK_LIB_DIR": str(conf.parent / "lib"),
        "FLINK_CONF_DIR": str(conf),
        "FLINK_LOG_DIR": str(dep.logdir / f"flink-{host.name}"),
        "FLINK_PID_DIR": str(conf / f"pids-{host.name}"),
    }


def _start(dep: Deployment, hosts: TestHosts, workers: int) -> None:
    python = flink_env.ensure()
    home = _flink_home(python)
    scratch = Path(tempfile.mkdtemp(prefix="distlab-hosts-flink-"))
    dep.scratch.append(str(scratch))
    conf = scratch / "conf"
    shutil.copytree(home / "conf", conf)  # its log4j files; the rest is set with -D
    _lib(home, scratch)
    server = dep.server
    jobmanager = {
        "jobmanager.rpc.address": server.address,
        "jobmanager.rpc.port": str(RPC_PORT),
        "jobmanager.bind-host": server.address,
        "rest.address": server.address,
        "rest.bind-address": server.address,
        "rest.port": str(REST_PORT),
        "jobmanager.memory.process.size": JOBMANAGER_MEMORY,
    }
    dep.start("jobmanager", server, _launch(home, "jobmanager.sh", jobmanager),
              env=_env(home, conf, dep, server))  # fmt: skip
    wait_for_port(dep, server, REST_PORT, timeout=90)
    placed = dep.spread(workers)
    for i, (host, slots) in enumerate(placed, start=1):
        taskmanager = {
            "jobmanager.rpc.address": server.address,
            "jobmanager.rpc.port": str(RPC_PORT),
            "taskmanager.host": host.address,
            "taskmanager.bind-host": host.address,
            "taskmanager.numberOfTaskSlots": str(slots),
            "taskmanager.memory.process.size": TASKMANAGER_MEMORY,
            "python.executable": python,  # the Python UDF workers: Flink's environment
        }
        dep.start(f"taskmanager {i}", host, _launch(home, "taskmanager.sh", taskmanager),
                  env=_env(home, conf, dep, host))  # fmt: skip
    dep.address = dep.via(dep.driver, server, REST_PORT, "driver -> JobManager (REST)")
    dep.options = {"python_executable": python}
    # every slot registered with the JobManager before the driver's first figure
    overview = f"http://{server.address}:{REST_PORT}/v1/overview"
    wait_for_json(dep, {"state": overview}, f"state.get('slots-total', 0) >= {workers}",
                  "every Flink task slot registered")  # fmt: skip
    dep.links["TaskManagers -> JobManager (RPC)"] = carried(hosts)
    dep.links["TaskManagers <-> TaskManagers (data exchange)"] = carried(hosts, peer_to_peer=True)
