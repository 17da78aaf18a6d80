"""RQ across the test hosts: Redis on the server host, one ``rq worker-pool`` on each worker
host serving one queue, the driver's engine on h0 given that queue (it starts no
worker). All but the worker command and settings is shared by the Redis task queues
(distlab.engines.common.queue_hosts)."""

from __future__ import annotations

from distlab.engines.common.queue_hosts import deploy_queue, option_defaults
from distlab.engines.rq.plugin import PLUGIN
from distlab.engines.rq.workers import worker_commands, worker_settings
from distlab.hosts.deploy import Deployment
from distlab.hosts.netns import TestHosts


def deploy(hosts: TestHosts, workers: int, gpus: int = 0) -> Deployment:
    settings = worker_settings(option_defaults(PLUGIN))
    return deploy_queue(PLUGIN, hosts, workers, worker_commands, settings, gpus=gpus)
