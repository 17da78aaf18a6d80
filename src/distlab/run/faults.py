"""Fault injection during a cell's first measured repetition: what every fault shares
(``Fault``) and the worker killer (``--kill-worker``); the broker killer is
distlab.run.broker_kill (``--kill-broker``), the host cut distlab.run.host_cut
(``--cut-host``).

The faulted repetition is timed and verified like the others but reported on its own:
its wall time never enters the medians that rank engines. Its record (``cell.fault``)
says what was killed, when, whether the run was still in flight, what was lost and
duplicated, and how long recovery took; a kill that hit nothing, or came after the run
had finished, says so, and so does an injection that failed (``error``).

While a fault is armed on a task engine, every task sent through ``submit`` records its
starts and ends (:mod:`distlab.contracts.tasklog`). That is how the worker killer picks
its victim (a worker process running one of this run's tasks at that moment) and how
duplicate executions are counted on every engine: starts beyond the first of each task
id (Celery re-runs a killed task; Kafka's group re-delivers it; Ray and Dask retry it).
Work that does not run through distlab's tasks (a Flink job, Spark's built-in
operators, a stream) cannot be observed so: the victim is then a worker process picked
a quarter into the expected run time, and the record says the victim was not observed.
A run that ends before its fault lands is reported apart too, and the fault is tried
again on the next repetition (MAX_ATTEMPTS runs in all). After a kill, the next
repetition waits until the victim is gone (outside any timing), so that a kill landing
at the very end of the faulted run cannot fail a later one.

A fault that hit none of the run's work says why in ``not_hit`` (the run had ended, the
only workers were idle, no broker or worker host to hit), so that no report reads it as
work that came through a fault unharmed. An idle Ray worker (titled ``ray::IDLE``) is
never the victim: it holds none of the run's work, so its death would cost the run
nothing.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import psutil

from distlab.contracts import Engine
from distlab.contracts.measured import NoticesLosses
from distlab.contracts.tasklog import TaskLog

#: how often the killer looks for a task in flight (seconds)
POLL_S = 0.001
#: runs a fault is tried on when each ended before it could land (short runs: a run of a
#: few milliseconds may have no task in flight when the killer looks)
MAX_ATTEMPTS = 8
#: longest wait, after a kill, for the victim to be gone before the next repetition
SETTLE_S = 5.0
#: from this attempt on, a worker that ran one of the run's tasks within BUSY_WITHIN_S
#: seconds will do as the victim when none is seen running one (tasks of microseconds)
BUSY_AFTER_ATTEMPTS = 3
BUSY_WITHIN_S = 0.005
#: how often the worker killer re-reads the engine's worker processes (seconds)
WORKERS_REFRESH_S = 0.2
#: the title Ray gives a worker process waiting for work (prestarted, or between tasks)
IDLE_TITLE = "ray::IDLE"
#: ``not_hit`` when every worker the killer could pick was idle
IDLE_ONLY = f"the only workers to kill were idle ({IDLE_TITLE})"
#: ``not_hit`` when the signal landed once the run had returned
AFTER_RUN = "the kill came after the run ended"


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def idle_worker(pid: int) -> bool:
    """Whether the process titles itself as a worker waiting for work (``ray::IDLE``):
    Ray keeps such workers ready, and one of them dying takes no work with it."""
    try:
        title = psutil.Process(pid).cmdline()[:1]  # one read of /proc: it precedes a kill
    except psutil.Error:
        return False
    return bool(title) and title[0].startswith(IDLE_TITLE)


class Fault:
    """What both faults share: the timer, the task log, the record, the run's end."""

    kind = "?"

    def __init__(self, engine: Engine):
        self.engine = engine
        #: what every attempt's record starts with
        self.base: dict[str, Any] = {"kind": self.kind}
        self.record: dict[str, Any] = dict(self.base)
        self.log: TaskLog | None = None
        self.attempts = 0
        self._missed = False  # the last attempt's run ended before anything was hit
        #: idle workers the killer passed over in this attempt (never victims)
        self._idle_passed: set[int] = set()
        self._thread: threading.Thread | None = None
        self._ended = threading.Event()
        self._run_started = 0.0  # time.time(): the task log's clock
        self._run_ended: float | None = None
        self._kill_time: float | None = None
        self.expect_tasks = False
        self.delay = 0.0

    @property
    def done(self) -> bool:
        """Nothing more to inject: it landed, or cannot, or MAX_ATTEMPTS runs ended before
        it could (each such run is still reported apart, never in the medians)."""
        return self.attempts >= MAX_ATTEMPTS or (self.attempts > 0 and not self._missed)

    def arm(self, expected_s: float | None, expect_tasks: bool = False) -> None:
        """Start watching a run that is about to start (expected to last about
        ``expected_s``: a first attempt kills nothing before a quarter of it; a later one,
        after a run that ended too soon, as soon as it can). ``expect_tasks``: the work
        runs on distlab's tasks (a tasks workload), so the worker killer waits for one in
        flight however late the first is submitted."""
        self.expect_tasks = expect_tasks
        self.attempts += 1
        self.record = dict(self.base)
        if self.attempts > 1:
            self.record["attempts"] = self.attempts
        self._missed = False
        self._idle_passed = set()
        self._kill_time = None
        share = 0.25 if self.attempts == 1 else 0.0
        self.delay = share * (expected_s or 0.5)
        if hasattr(self.engine, "task_log"):
            self.log = TaskLog()
            self.engine.task_log = self.log
        self._run_started, self._run_ended = time.time(), None
        self._ended.clear()
        self._thread = threading.Thread(
            target=self._watch, name=f"distlab-{self.kind}", daemon=True
        )
        self._thread.start()

    def _missed_run(self, what: str) -> None:
        """The run ended before the fault could land: retried on the next repetition."""
        self._missed = True
        self.record["in_flight"] = False
        more = "" if self.attempts >= MAX_ATTEMPTS else " (tried again on the next run)"
        self.record["error"] = f"{what}: nothing was killed{more}"
        self.record["not_hit"] = what
        if self._idle_passed:
            self.record["idle_workers_passed_over"] = sorted(self._idle_passed)[:20]
            self.record["not_hit"] = f"{IDLE_ONLY}: {what}"

    def run_ended(self) -> None:
        """Called the moment the faulted run returned or raised (before anything else)."""
        self._run_ended = time.time()
        self._ended.set()

    def disarm(self, wall_s: float | None, lost: int | None = None) -> dict[str, Any]:
        """Wait for the watcher (outside the timed region), stop recording tasks, and
        return the record."""
        if self._run_ended is None:
            self.run_ended()
        if self._thread is not None:
            self._thread.join()
        self._settle()
        if self.log is not None:
            self.engine.task_log = None
        try:
            self._finish(lost)
        finally:
            if self.log is not None:
                self.log.close()
        if wall_s is not None:
            self.record["faulted_wall_s"] = round(wall_s, 4)
        return self.record

    def _settle(self) -> None:
        """Before the next repetition: let the victim's death be over (gone, or reaped)
        and the engine see it, so that it cannot fail a later, unfaulted run."""
        pid = self.record.get("killed_pid")
        if not pid or self.kind != "worker":
            return
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            try:
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.Error:
                break
            time.sleep(0.01)
        time.sleep(0.1)  # the engine's own watcher (a pool's, a group's) notices

    # -- subclasses ----------------------------------------------------------------------
    def _watch(self) -> None:
        raise NotImplementedError

    def _finish(self, lost: int | None) -> None:
        """Fill in what the run showed after the kill (counts from the task log)."""
        rec = self.record
        kill = self._kill_time
        if kill is None and "killed_pid" not in rec and "error" not in rec:
            rec["error"] = "nothing was killed"
        if kill is None and "killed_pid" not in rec and "not_hit" not in rec:
            rec["not_hit"] = rec["error"]
        if lost is not None:
            rec["lost"] = lost
        if kill is not None and self._run_ended is not None:
            rec["recovery_s"] = _round(max(0.0, self._run_ended - kill))
        if kill is not None and isinstance(self.engine, NoticesLosses):
            noticed = [x for x in self.engine.losses if x.at >= kill]
            if noticed:  # who told the caller a task was lost, how long after the kill
                first = noticed[0]
                rec["loss_noticed_by"] = first.noticed_by
                rec["loss_noticed_s"] = _round(first.at - kill)
                rec["loss_message"] = first.message[:300]
        log = self.log
        if log is None:
            rec["tasks_observed"] = False
            rec["duplicated"] = None
            rec["note_tasks"] = "the engine runs no distlab tasks: executions not counted"
            return
        state = log.read()
        rec["tasks"] = log.submitted
        if log.submitted and not state.executions:
            rec["tasks_observed"] = False
            rec["duplicated"] = None
            rec["note_tasks"] = (
                "no task start was recorded: the workers do not write to this machine's "
                "file system (a remote cluster?), so executions were not counted"
            )
            return
        rec["tasks_observed"] = bool(log.submitted)
        if not log.submitted:
            rec["duplicated"] = None
            rec["note_tasks"] = "this cell's work ran no distlab tasks: executions not counted"
            return
        rec["executions"] = len(state.executions)
        rec["finished"] = len(state.finished_ids())
        rec["duplicated"] = state.reexecutions()
        rerun = state.rerun_ids()
        if rerun:
            rec["rerun_task_ids"] = rerun[:20]
        unfinished = state.started_ids() - state.finished_ids()
        if unfinished:
            rec["never_finished_task_ids"] = sorted(unfinished)[:20]
        if kill is not None:
            after = [x.end for x in state.executions if x.end is not None and x.end > kill]
            if after:
                rec["next_task_done_s"] = _round(min(after) - kill)
            victim = rec.get("victim_task_id")
            if victim is not None:
                redone = [
                    x
                    for x in state.executions
                    if x.task_id == victim
                    and x.start >= kill - 0.001
                    and x.pid != rec["killed_pid"]
                ]
                rec["victim_task_rerun"] = bool(redone)
                ends = [x.end for x in redone if x.end is not None]
                if ends:
                    rec["victim_task_done_s"] = _round(min(ends) - kill)

    def _in_flight_at_kill(self) -> bool:
        return self._run_ended is None


class WorkerKiller(Fault):
    """SIGKILLs one worker process observed running one of this run's tasks."""

    kind = "worker"

    def _watch(self) -> None:
        if self._ended.wait(self.delay):
            self._missed_run("the run finished before the kill was due")
            return
        log = self.log
        if log is None or (log.submitted == 0 and not self.expect_tasks):
            # the work does not go through distlab's tasks (a Flink job, a stream...)
            self._kill_unobserved()
            return
        workers: set[int] = set()
        strangers: list[int] = []
        workers_read = 0.0
        while not self._ended.is_set():
            now = time.monotonic()
            if now - workers_read > WORKERS_REFRESH_S:  # not per poll: it costs ms on Ray
                workers = set(self.engine.worker_pids()) - {os.getpid()}
                workers_read = now
                if not workers:
                    self.record["error"] = "the engine lists no worker process on this machine"
                    return
            state = log.read()
            running = state.running()
            ours = [x for x in running if x.pid in workers]
            if not ours and self.attempts >= BUSY_AFTER_ATTEMPTS and state.executions:
                # tasks of microseconds may never be caught running: after a few runs,
                # a worker that finished one of this run's tasks a moment ago will do
                busy = [
                    x
                    for x in state.executions[-50:]
                    if x.pid in workers and x.end and time.time() - x.end < BUSY_WITHIN_S
                ]
                busy = [x for x in busy if not self._passed_over_if_idle(x.pid)]
                if busy:
                    last = max(busy, key=lambda x: x.end)
                    self._kill(last.pid)
                    if "killed_pid" not in self.record:
                        return
                    self.record["victim_observed"] = False
                    self.record["note"] = (
                        f"this run's tasks were too short to be seen running: the victim "
                        f"had finished task {last.task_id} "
                        f"{(self._kill_time or time.time()) - last.end:.4f} s before the signal"
                    )
                    return
            if ours:
                # the task that started last: with tasks of equal length, the one with
                # the most left to run (the least likely to end before the signal lands)
                victim = max(ours, key=lambda x: x.start)
                log.read()  # a last look, a few microseconds before the signal
                if victim.end is None:
                    if not self._passed_over_if_idle(victim.pid):
                        self._kill(victim.pid, victim_task=victim.task_id)
                        return
                    self._ended.wait(POLL_S)  # its task has just ended: look again
                continue
            if running and now - workers_read > 0.01:
                workers_read = 0.0  # a new worker (a replacement): look again at once
            elif running:
                strangers = sorted({x.pid for x in running} - workers)
            self._ended.wait(POLL_S)
        if strangers:  # not a matter of timing: trying again would not help
            self.record["error"] = (
                f"this run's tasks ran only in processes the engine does not list as its "
                f"workers ({strangers[:5]}): nothing was killed"
            )
            self.record["in_flight"] = False
            return
        self._missed_run("no worker was seen running one of this run's tasks before it finished")

    def _passed_over_if_idle(self, pid: int) -> bool:
        if not idle_worker(pid):
            return False
        self._idle_passed.add(pid)
        return True

    def _kill_unobserved(self) -> None:
        """Work that is not distlab's tasks: a worker process, not observed running it."""
        pids = [p for p in self.engine.worker_pids() if p != os.getpid()]
        if not pids:
            self.record["error"] = "the engine reported no worker process to kill"
            return
        pids = [p for p in pids if not self._passed_over_if_idle(p)]
        if not pids:
            self.record.update(
                error="every worker process the engine lists was idle: nothing was killed",
                not_hit=IDLE_ONLY,
                idle_workers_passed_over=sorted(self._idle_passed)[:20],
            )
            return
        self.record["victim_observed"] = False
        self.record["note"] = (
            "this cell's work does not run through distlab's tasks: the victim is a worker "
            "process, not observed running the work"
        )
        self._kill(pids[0])

    def _kill(self, pid: int, victim_task: int | None = None) -> None:
        if not self._in_flight_at_kill():  # it ended between the look and now
            self._missed_run("the run finished as its victim was picked")
            return
        now = time.time()
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError as exc:
            self.record["error"] = f"could not kill {pid}: {exc}"
            return
        ended = self._run_ended
        in_flight = ended is None or ended > now  # (it may end in the microseconds between)
        if not in_flight:
            self.record["note"] = "the run had already finished: the kill hit no task"
            self.record["not_hit"] = AFTER_RUN
        self._kill_time = now
        self.record.update(
            killed_pid=pid, at_s=round(now - self._run_started, 3), in_flight=in_flight
        )
        if victim_task is not None and self.log is not None:
            self.record.update(victim_observed=True, victim_task_id=victim_task)
            # the look and the signal are ~a millisecond apart: what did the victim hold
            # when the signal went? (it may have finished that task and started the next)
            held = [
                x
                for x in self.log.read().executions
                if x.pid == pid and x.start <= now and (x.end is None or x.end > now)
            ]
            if held:
                self.record["victim_task_id"] = held[-1].task_id
            else:
                ends = [x.end for x in self.log.read().executions if x.pid == pid and x.end]
                self.record["victim_observed"] = False
                self.record["note"] = (
                    f"the victim was seen running task {victim_task}, which ended "
                    f"{(now - max(ends)) * 1e3:.1f} ms before the signal: it held no task then"
                )
