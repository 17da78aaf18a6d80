"""Ray across the test hosts: the cluster of :mod:`distlab.engines.common.ray_cluster`
(``ray start`` on each host), its driver joining through Ray Client."""

from __future__ import annotations

from distlab.engines.common.ray_cluster import start_ray_cluster
from distlab.hosts.deploy import Deployment, build
from distlab.hosts.netns import TestHosts


def deploy(hosts: TestHosts, workers: int, gpus: int = 0) -> Deployment:
    return build("ray", hosts, workers, start_ray_cluster, gpus=gpus)
