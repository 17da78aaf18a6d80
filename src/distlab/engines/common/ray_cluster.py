"""A Ray cluster across the test hosts, made with Ray's own command-line tool: ``ray start
--head`` on the server host (no CPUs of its own when there are worker hosts, so tasks run
there), ``ray start --address`` on the worker hosts; the driver joins from h0 through Ray
Client (``ray://``), since h0 runs no raylet of its own.

Shared by the engines that run on Ray (the Ray engine; Daft's Ray runner): it runs the
``ray`` command and a driver script, and imports no Ray itself."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from distlab.contracts import DistlabError
from distlab.hosts.deploy import Deployment, carried, wait_for_port
from distlab.hosts.netns import TestHosts

GCS_PORT = 6379
CLIENT_PORT = 10001
#: each node's object store (shared memory): kept small, several nodes share one machine
OBJECT_STORE_BYTES = 1_000_000_000


def start_ray_cluster(dep: Deployment, hosts: TestHosts, workers: int) -> None:
    """The cluster's head and nodes started on ``hosts`` (the ``build`` step of a
    deployment), and ``dep.address`` its Ray Client address once every CPU has joined."""
    ray = shutil.which("ray", path=os.path.dirname(sys.executable))
    if ray is None:
        raise DistlabError("the ray command is not installed beside this Python")
    server = dep.server
    # one temp dir for the cluster: Ray's nodes on one machine share its session
    # directory (each node's sockets get names of their own), and nothing mixes with
    # another Ray on this machine
    temp = tempfile.mkdtemp(prefix="dlray-")  # short: Ray's socket paths are limited
    dep.scratch.append(temp)
    env = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    common = ["--block", "--disable-usage-stats", f"--object-store-memory={OBJECT_STORE_BYTES}"]
    head_cpus = 0 if server not in dep.worker_hosts else workers
    gpu_host = dep.worker_hosts[0]  # the deployment's GPU units, all on one node
    dep.start(
        "head",
        server,
        [
            ray,
            "start",
            "--head",
            f"--node-ip-address={server.address}",
            f"--port={GCS_PORT}",
            f"--ray-client-server-port={CLIENT_PORT}",
            f"--num-cpus={head_cpus}",
            f"--num-gpus={dep.gpus if server is gpu_host else 0}",
            "--include-dashboard=false",
            f"--temp-dir={temp}",
            *common,
        ],  # fmt: skip
        env=env,
    )
    wait_for_port(dep, server, CLIENT_PORT, timeout=90)
    for i, (host, count) in enumerate(dep.spread(workers)):
        if host is server:
            continue  # the head has the CPUs already
        dep.start(
            f"node {i + 1}",
            host,
            [
                ray,
                "start",
                f"--address={server.address}:{GCS_PORT}",
                f"--node-ip-address={host.address}",
                f"--num-cpus={count}",
                f"--num-gpus={dep.gpus if host is gpu_host else 0}",
                *common,
            ],  # fmt: skip
            env=env,
        )
    dep.address = f"ray://{server.address}:{CLIENT_PORT}"
    link = "driver -> head (Ray Client)"
    dep.links[link] = carried(hosts)
    if hosts.rtt_ms and not hosts.netem:
        # Tried here: through Toxiproxy (10 ms) Ray Client's proxier on the head timed out
        # starting the client's server ("Unable to find channel for client"): not proxied
        dep.links[link] = "not delayed: Ray Client fails its start-up through a TCP proxy"
    dep.run_on_driver(
        "import os, time, ray\n"
        "os.environ.update(RAY_AUTH_MODE='disabled', RAY_USAGE_STATS_ENABLED='0')\n"
        # a Ray Client server that failed to start is asked for again (as the engine does)
        "for attempt in range(3):\n"
        "    try:\n"
        f"        ray.init({dep.address!r}, logging_level='ERROR')\n"
        "        break\n"
        "    except Exception:\n"
        "        if attempt == 2:\n"
        "            raise\n"
        "        ray.shutdown(); time.sleep(2)\n"
        "end = time.time() + 90\n"
        f"wanted = {{'CPU': {workers}, 'GPU': {dep.gpus}}}\n"
        "while any(ray.cluster_resources().get(k, 0) < n for k, n in wanted.items()):\n"
        "    if time.time() > end:\n"
        "        raise SystemExit('not every node joined: ' + str(ray.cluster_resources()))\n"
        "    time.sleep(0.5)\n",
        timeout=150,
    )
    gcs = carried(hosts)
    if hosts.rtt_ms and not hosts.netem:
        gcs = "not delayed: nodes and their workers reach the GCS at the addresses it hands out"
    dep.links["nodes <-> head (GCS)"] = gcs
    dep.links["node <-> node (object transfers)"] = carried(hosts, peer_to_peer=True)
