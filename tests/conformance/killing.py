"""Killing the worker process that runs a task, and reading what each task went through:
every task logs its start and end with its pid, so a fault's victim and its re-runs can
be seen (the fault tests of the task engines)."""

from __future__ import annotations

import os
import signal
import time


def record_and_sleep(log_path: str, task_id: int, seconds: float) -> int:
    """Log each start and end with the pid, so a fault's victim and reruns can be seen."""
    with open(log_path, "a") as log:
        log.write(f"start {task_id} {os.getpid()}\n")
    time.sleep(seconds)
    with open(log_path, "a") as log:
        log.write(f"end {task_id} {os.getpid()}\n")
    return task_id * 10


def events(log_path: str) -> list[tuple[str, int, int]]:
    if not os.path.exists(log_path):
        return []
    with open(log_path) as log:
        return [(kind, int(task), int(pid)) for kind, task, pid in map(str.split, log)]


def kill_a_running_task(log_path: str, timeout: float = 30.0) -> tuple[int, int]:
    """SIGKILL the process running a task right now: (its task id, its pid)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = events(log_path)
        running = {(t, p) for k, t, p in seen if k == "start"}
        running -= {(t, p) for k, t, p in seen if k == "end"}
        if running:
            victim_task, victim = min(running)
            os.kill(victim, signal.SIGKILL)
            return victim_task, victim
        assert time.monotonic() < deadline, "no task started"
        time.sleep(0.02)
