"""Daft across the test hosts: its Ray runner on a Ray cluster deployed there (the one of
:mod:`distlab.engines.common.ray_cluster`, as the Ray engine's), the driver on h0 joining
through Ray Client. Daft's Ray runner plans on the driver and runs each query's tasks on
the cluster's nodes, which read the tables from the filesystem the hosts share."""

from __future__ import annotations

from distlab.engines.common.ray_cluster import start_ray_cluster
from distlab.hosts.deploy import Deployment, build
from distlab.hosts.netns import TestHosts


def deploy(hosts: TestHosts, workers: int) -> Deployment:
    return build("daft", hosts, workers, start_ray_cluster)
