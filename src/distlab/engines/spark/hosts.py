"""Spark across the test hosts: a standalone master on the server host and one standalone
worker per worker host (Spark's own ``spark-class`` launcher from the pyspark wheel,
``org.apache.spark.deploy.master.Master`` and ``...worker.Worker``), each worker offering
its share of the cores; the driver's engine on h0 joins with ``spark://`` and binds its
own driver to h0's address, which the executors on the worker hosts connect back to.

Without netem no delay sits on Spark's links: the executors and the driver talk to each
other directly (task results, shuffle blocks, broadcasts), and a proxy can sit only on
the client -> master registration."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyspark

from distlab.hosts.deploy import Deployment, build, carried, wait_for_json, wait_for_port
from distlab.hosts.netns import TestHosts

PORT = 7077
#: each worker's memory for its executors: several workers share one machine here
WORKER_MEMORY = "1g"


def deploy(hosts: TestHosts, workers: int) -> Deployment:
    return build("spark", hosts, workers, _start)


def _spark_class(*args: str) -> list[str]:
    return [str(Path(pyspark.__file__).parent / "bin" / "spark-class"), *args]


def _env(host_address: str) -> dict[str, str]:
    return {
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "SPARK_LOCAL_IP": host_address,  # what the daemon binds and advertises
        "PYSPARK_PYTHON": sys.executable,
    }


def _start(dep: Deployment, hosts: TestHosts, workers: int) -> None:
    server = dep.server
    master = ["org.apache.spark.deploy.master.Master", "--host", server.address,
              "--port", str(PORT), "--webui-port", "18080"]  # fmt: skip
    dep.start("master", server, _spark_class(*master), env=_env(server.address))
    wait_for_port(dep, server, PORT)
    url = f"spark://{server.address}:{PORT}"
    dep.address = url
    for i, (host, count) in enumerate(dep.spread(workers)):
        worker = ["org.apache.spark.deploy.worker.Worker", url, "--host", host.address,
                  "--cores", str(count), "--memory", WORKER_MEMORY, "--webui-port", "18081"]  # fmt: skip
        dep.start(f"worker {i + 1}", host, _spark_class(*worker), env=_env(host.address))
    driver = dep.driver.address
    dep.options = {
        "conf": {
            "spark.driver.host": driver,
            "spark.driver.bindAddress": driver,
            "spark.cores.max": str(workers),
            # the executors import what the driver imports (distlab, the user's modules)
            "spark.executorEnv.PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        }
    }
    # every worker registered with the master before the driver's first figure
    alive = "sum(w.get('state') == 'ALIVE' for w in state.get('workers', []))"
    wait_for_json(dep, {"state": f"http://{server.address}:18080/json/"},
                  f"{alive} >= {len(dep.spread(workers))}",
                  "every spark worker registered with the master")  # fmt: skip
    dep.links["driver -> master"] = carried(hosts)
    dep.links["executors <-> driver (tasks, results, shuffle)"] = carried(hosts, peer_to_peer=True)
