"""The Redis task queues (Dramatiq, RQ, Huey, Taskiq, arq) on a real Redis: each runs the
lifecycle and task conformance suites with its own worker CLI."""

from __future__ import annotations

from conformance.lifecycle import LifecycleConformance
from conformance.tasks import TaskConformance


class QueueSuite(LifecycleConformance, TaskConformance):
    unreachable_address = "redis://127.0.0.1:{port}/0"


class TestRQ(QueueSuite):
    engine_name = "rq"


class TestDramatiq(QueueSuite):
    engine_name = "dramatiq"


class TestHuey(QueueSuite):
    engine_name = "huey"


class TestTaskiq(QueueSuite):
    engine_name = "taskiq"


class TestArq(QueueSuite):
    engine_name = "arq"
