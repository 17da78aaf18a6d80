"""``distlab advise --hosts N``: the advice for clusters spread over test hosts.

Each engine asked for is deployed across the hosts by its own multi-node tooling (as
``distlab run --hosts`` deploys it), then the advice itself runs on the driver's host h0,
pointed at every deployment by its address: its calibration and its races cross the
hosts' links (and their delay with ``--rtt``), so the per-task cost and the round trip
in the answer are the cluster's. The standard library's pool runs on h0, the bar. Every
deployment is stopped by PID and the hosts taken down afterwards, whatever happened.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from distlab.contracts import DistlabError
from distlab.hosts import netns
from distlab.hosts.deploy import Deployment
from distlab.run.on_hosts import deploy_engine

#: the engine that runs on the driver's host, not deployed (the bar)
HERE = "local"


def advise_across_hosts(
    advise_args: list[str],
    engines: list[str],
    hosts: int,
    links: dict,
    workers: int,
    say: Callable[[str], None],
) -> int:
    """Deploy ``engines`` on ``hosts`` test hosts with ``workers`` workers each, run
    ``distlab advise *advise_args`` on h0 against them; its exit code."""
    spread = [e for e in engines if e != HERE]
    if not spread:
        raise DistlabError("--hosts: name an engine to spread over the hosts (e.g. dask, ray)")
    test_hosts = netns.up(hosts, links.get("rate"), links.get("rtt_ms", 0.0),
                          links.get("loss_pct", 0.0))  # fmt: skip
    deployments: list[Deployment] = []
    try:
        for name in spread:
            say(f"deploying {name} across {hosts} test hosts ...")
            deployments.append(deploy_engine(name, test_hosts, workers))
        for dep in deployments:
            where = ", ".join(f"{role} on {host}" for role, host in dep.placement.items())
            say(f"{dep.engine}: {dep.address} ({where})")
        argv = [str(Path(sys.executable).parent / "distlab"), "advise", *advise_args,
                "--engines", ",".join([HERE, *spread]),
                "--engine-options", json.dumps({d.engine: d.options for d in deployments})]  # fmt: skip
        for dep in deployments:
            argv += ["--address", f"{dep.engine}={dep.address}"]
        return subprocess.run(test_hosts.hosts[0].command(argv), check=False).returncode
    finally:
        for dep in deployments:
            dep.stop()
        netns.down()
