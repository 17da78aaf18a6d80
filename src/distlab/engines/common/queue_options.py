"""The options every Redis task queue's engine takes (distlab.engines.common.queue_engine),
declared before any library is imported (each queue's plugin.py adds its own)."""

from __future__ import annotations

from distlab.contracts.plugin import Option


def queue_options(lost_after_s: float) -> tuple[Option, ...]:
    """``lost_after_s``: the queue's default wait before a dead worker's task counts as
    lost (longer than the time it takes the queue to deliver such a task again)."""
    return (
        Option("durable_broker", bool, False,
               "the embedded Redis keeps an append-only file (comes back with its data)"),
        Option("queue", str, None,
               "serve this queue with workers started elsewhere; start none"),
        Option("lost_after", float, lost_after_s,
               "seconds after a worker died (and nothing progressed) before a task that "
               "has not come back counts as lost", minimum=0.5),
    )  # fmt: skip
