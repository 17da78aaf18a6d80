"""What each Redis task queue does with a task whose worker process is SIGKILLed mid-task,
on a real Redis with the queue's own workers: reported failed (RQ), lost without a word
(Huey, Taskiq's list queue: distlab's watch gives up on it), or run again (RQ with
retries, Dramatiq once its heartbeat expired, arq once the job's timeout passed)."""

from __future__ import annotations

import time

import pytest

import distlab
from conformance.killing import events, kill_a_running_task, record_and_sleep
from distlab.contracts import TaskLost

TASKS = 4
SLEEP_S = 1.5

# (engine, options, what becomes of the victim's task); short windows keep it quick
CASES = [
    ("rq", {}, "reported failed"),
    ("rq", {"retries": 3}, "run again"),
    ("huey", {"lost_after": 3.0}, "lost"),
    ("taskiq", {"lost_after": 3.0}, "lost"),
    ("dramatiq", {"heartbeat_timeout_ms": 3000, "maintenance_chance": 1_000_000}, "run again"),
    ("arq", {"job_timeout": 2, "lost_after": 40.0}, "run again"),
]


@pytest.mark.parametrize(("name", "options", "expected"), CASES, ids=lambda x: str(x))
def test_a_killed_worker_s_task(tmp_path, name, options, expected):
    log_path = str(tmp_path / "executions.log")
    with distlab.engine(name, workers=2, **options) as eng:
        futures = [eng.submit(record_and_sleep, log_path, i, SLEEP_S) for i in range(TASKS)]
        victim_task, victim = kill_a_running_task(log_path)
        killed_at = time.time()
        outcomes = []
        for f in futures:
            try:
                outcomes.append(f.result(timeout=90))
            except TaskLost as exc:
                outcomes.append(exc)
        losses = list(eng.losses)
    seen = events(log_path)
    lost = [i for i, x in enumerate(outcomes) if isinstance(x, TaskLost)]
    done = {i: x for i, x in enumerate(outcomes) if not isinstance(x, TaskLost)}
    assert all(x == i * 10 for i, x in done.items()), outcomes
    victim_starts = [p for k, t, p in seen if k == "start" and t == victim_task]
    if expected == "run again":
        assert not lost, outcomes
        assert len(victim_starts) >= 2 and victim_starts[0] == victim, seen
        assert not losses
        return
    assert lost == [victim_task], (outcomes, seen)
    assert victim_starts == [victim], seen  # never run again
    (loss,) = losses
    assert loss.at >= killed_at
    if expected == "reported failed":
        assert loss.noticed_by == "the queue" and "rq failed the job" in loss.message
        assert loss.at - killed_at < 10
    else:  # lost without a word: distlab's watch gave up after lost_after
        assert loss.noticed_by == "distlab" and "lost_after" in loss.message
        assert options["lost_after"] <= loss.at - killed_at < options["lost_after"] + 15
