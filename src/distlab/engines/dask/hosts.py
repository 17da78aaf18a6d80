"""Dask across the test hosts with its own command-line tools: ``dask scheduler`` on the
server host, ``dask worker`` processes (one thread each, as distlab's embedded cluster)
on the worker hosts; the driver's Client connects from h0."""

from __future__ import annotations

import sys

from distlab.contracts.tasks import units_environment
from distlab.engines.common.units import split_units
from distlab.hosts.deploy import Deployment, build, carried, wait_for_port
from distlab.hosts.netns import Host, TestHosts

PORT = 8786


def deploy(hosts: TestHosts, workers: int, gpus: int = 0) -> Deployment:
    return build("dask", hosts, workers, _start, gpus=gpus)


def _start(dep: Deployment, hosts: TestHosts, workers: int) -> None:
    server = dep.server
    # the scheduler's and workers' directories inside the deployment's, removed with it
    # (Dask's default keeps a dask-scratch-space in the system's temp dir)
    scratch = dep.logdir / "dask"
    scratch.mkdir(exist_ok=True)
    scratch_env = {"DASK_TEMPORARY_DIRECTORY": str(scratch)}
    scheduler = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    dep.start("scheduler", server, [*scheduler, "--host", server.address, "--port", str(PORT),
                                    "--no-dashboard"], env=scratch_env)  # fmt: skip
    wait_for_port(dep, server, PORT)
    dep.address = "tcp://" + dep.via(dep.driver, server, PORT, "driver -> scheduler")
    for i, (host, count) in enumerate(dep.spread(workers)):
        # each worker host reaches the scheduler through its own proxy when delayed
        address = "tcp://" + dep.via(host, server, PORT, "workers -> scheduler")
        worker = [sys.executable, "-m", "distributed.cli.dask_worker", address]
        options = ["--host", host.address, "--nworkers", str(count), "--nthreads", "1",
                   "--no-dashboard", "--death-timeout", "60"]  # fmt: skip
        if dep.gpus and i == 0:
            _start_gpu_workers(dep, host, count, [*worker, *options[:2], *options[4:]], scratch_env)
            continue
        dep.start(f"workers {i + 1}", host, [*worker, *options], env=scratch_env)
    dep.run_on_driver(
        "from distributed import Client\n"
        f"with Client({dep.address!r}, timeout=30) as c:\n"
        f"    c.wait_for_workers({workers}, timeout=90)\n",
        timeout=120,
    )
    dep.links["client, workers <-> workers (data)"] = carried(hosts, peer_to_peer=True)


def _start_gpu_workers(
    dep: Deployment, host: Host, count: int, command: list[str], scratch_env: dict[str, str]
) -> None:
    """The first worker host's workers one process each, with the deployment's GPU
    units split among them as the embedded engine splits them (its share declared as a
    Dask resource, its unit ids in its environment)."""
    first = 0
    for j, share in enumerate(int(u) for u in split_units(dep.gpus, count)):
        units = list(range(first, first + share))
        first += share
        env = units_environment({"GPU": units}) if units else {}
        resources = ["--resources", f"GPU={share}"] if share else []
        dep.start(f"workers 1.{j + 1}", host, [*command, "--nworkers", "1", *resources],
                  env={**scratch_env, **env})  # fmt: skip
