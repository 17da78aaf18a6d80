"""The configurations the model finds promising, run for real and timed, each answer
checked against the plain loop's; a configuration is dropped as soon as it is clearly
behind the best measured so far.

Which configurations run is decided by the model's error, measured as the race goes: a
configuration is run when its prediction, divided by the model's worst error so far,
beats the best time measured so far (it could win if the model is that far off). Before
any engine's configuration has been measured the error is taken to be PRIOR_ERROR; a
model that turns out 3x off on one configuration makes every later prediction three
times less believable, and more configurations are run.

A run still going at CUTOFF times the best median so far is abandoned (its engine is
closed and started again for the next configuration), and a configuration whose first
run is BEHIND the best is not repeated: the repetitions are spent where they decide the
answer, as the matrix's racing does (distlab.run.racing).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from distlab.advice.model import Config, EngineCosts, Model, calibrate, loop_config, model_error
from distlab.contracts import DistlabError, TaskEngine
from distlab.contracts.errors import error_line
from distlab.run import repetitions
from distlab.run.racing import separated

#: the model's error assumed before any engine's configuration was measured
PRIOR_ERROR = 2.0
#: the error never counts as smaller than this (two runs of one configuration differ too)
LEAST_ERROR = 1.25
#: a run still going at this multiple of the best median so far is abandoned
CUTOFF = 2.0
#: a configuration whose median is this far behind the best is not repeated further
BEHIND = 1.25
#: samples the leading configurations (and the loop, when cheap) are brought up to, so
#: that the speed-up has an interval
LEAD_SAMPLES = 3
#: the most seconds spent bringing one configuration up to LEAD_SAMPLES
CONFIRM_BUDGET_S = 60.0
#: seconds an abandoned run's engine is given to let go of its map after being closed
LET_GO_S = 30.0


@dataclass
class Trial:
    """One configuration's prediction and what running it gave."""

    config: Config
    predicted_s: float
    samples: list[float] = field(default_factory=list)
    #: verified, abandoned (cut off), wrong (answer differs), failed (raised)
    status: str = "verified"
    note: str = ""
    #: the time a cut-off run had reached: the measurement is at least this
    at_least_s: float | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def measured_s(self) -> float | None:
        """What the table compares with the prediction (a lower bound when cut off)."""
        return self.median if self.samples else self.at_least_s

    @property
    def error(self) -> float | None:
        m = self.measured_s
        return None if m is None else model_error([(self.predicted_s, m)])

    @property
    def counts(self) -> bool:
        """Whether it can be recommended: verified and measured."""
        return self.status == "verified" and bool(self.samples)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.label(),
            "engine": self.config.engine,
            "workers": self.config.workers,
            "chunk": self.config.chunk,
            "predicted_s": self.predicted_s,
            "samples": self.samples,
            "median_s": self.median,
            "status": self.status,
            "note": self.note,
            "at_least_s": self.at_least_s,
            "error": self.error,
        }


def same(result: list[Any], golden: list[Any]) -> bool:
    """Equal, item by item (NumPy arrays compared as arrays, not by ``==``'s truth)."""
    if len(result) != len(golden):
        return False
    for a, b in zip(result, golden, strict=True):
        try:
            if a == b:
                continue
            return False
        except ValueError:  # an array's == is not one truth value
            import numpy as np

            if not np.array_equal(a, b):
                return False
    return True


class Race:
    """The race over every engine given, the plain loop first (the answer and the bar)."""

    def __init__(
        self,
        fn: Callable[[Any], Any],
        items: list[Any],
        model: Model,
        check: Callable[[list[Any], list[Any]], bool],
        say: Callable[[str], None],
    ):
        self.fn, self.items, self.model, self.check, self.say = fn, items, model, check, say
        self.trials: list[Trial] = []
        self.skipped: dict[str, str] = {}
        self.costs: list[EngineCosts] = []
        self.golden: list[Any] = []
        self._start_s = 0.0

    # -- the bar ----------------------------------------------------------------------
    def run_loop(self) -> None:
        """The plain loop: the answer every configuration must give, and the time it
        must beat; repeated up to LEAD_SAMPLES while that stays within the budget."""
        trial = Trial(loop_config(), self.model.predict(loop_config()))
        self.trials.append(trial)
        while True:
            t0 = time.perf_counter()
            try:
                answer = [self.fn(x) for x in self.items]
            except Exception as exc:  # on an item the sample missed: still before engines
                raise DistlabError(f"the plain loop failed: {error_line(exc)}") from None
            trial.samples.append(time.perf_counter() - t0)
            if len(trial.samples) > 1 and not self.check(answer, self.golden):
                # no engine could be checked against an answer that changes by itself
                raise DistlabError(
                    "the function's answer changes from one plain loop to the next: "
                    "give a verify function that accepts what it may return"
                )
            self.golden = self.golden or answer
            more = LEAD_SAMPLES - len(trial.samples)
            if more <= 0 or more * trial.samples[0] > CONFIRM_BUDGET_S / 4:
                break
        self.say(f"plain loop: {_secs(trial.samples)}")

    def best(self, besides: Trial | None = None) -> Trial:
        done = [t for t in self.trials if t.counts and t is not besides]
        return min(done, key=lambda t: t.median or 0.0)

    def error(self) -> float:
        """The model's worst error so far (PRIOR_ERROR before any engine's run)."""
        engine_runs = [t for t in self.trials if not t.config.is_loop and t.measured_s]
        if not engine_runs:
            return PRIOR_ERROR
        pairs = [(t.predicted_s, t.measured_s) for t in self.trials if t.measured_s]
        return max(LEAST_ERROR, model_error(pairs) or LEAST_ERROR)  # type: ignore[arg-type]

    def worth_running(self, predicted_s: float) -> bool:
        return predicted_s / self.error() < (self.best().median or 0.0)

    # -- one engine -------------------------------------------------------------------
    def run_engine(
        self,
        name: str,
        workers: int,
        start: Callable[[], TaskEngine],
        known_task_s: Callable[[int], tuple[float, str] | None] = lambda workers: None,
    ) -> None:
        """Start the engine, calibrate it, run its promising configurations.
        ``known_task_s(workers)``: a per-task cost measured before (a recent bench), if
        any, and where it came from."""
        engine = self._start(name, workers, start)
        if engine is None:
            return
        # a cluster given by its address has the workers it has (1 when it does not say)
        workers = engine.workers or workers or 1
        try:
            t0 = time.perf_counter()
            costs = calibrate(engine, self._start_s, known_task_s(workers))
        except Exception as exc:
            engine.close()
            self.skipped[name] = f"calibration failed: {error_line(exc)}"
            return
        self.costs.append(costs)
        self.model.add(costs)
        self.say(
            f"{name} (workers={workers}, on {costs.where}): started in {self._start_s:.1f} s, "
            f"calibrated in {time.perf_counter() - t0:.1f} s: {costs.task_s * 1e3:.2f} ms "
            f"per task ({costs.task_cost_from}), {costs.byte_s * 1e9:.2f} s per GB, one "
            f"task's round trip {costs.round_trip_s * 1e3:.2f} ms"
        )
        configs = sorted(self.model.configs(name, workers), key=self.model.predict)
        try:
            for config in configs:
                predicted = self.model.predict(config)
                if not self.worth_running(predicted):
                    continue
                if engine is None:  # closed after a cut-off run
                    engine = self._start(name, workers, start)
                    if engine is None:
                        return
                engine = self._race(engine, Trial(config, predicted))
            if engine is not None:
                self._confirm(engine, name)
        finally:
            if engine is not None:
                engine.close()

    def _start(self, name: str, workers: int, start: Callable[[], TaskEngine]):
        t0 = time.perf_counter()
        try:
            engine = start()
        except DistlabError as exc:
            self.skipped[name] = str(exc)
            self.say(f"{name}: not started: {exc}")
            return None
        self._start_s = time.perf_counter() - t0
        return engine

    def _race(self, engine: TaskEngine, trial: Trial) -> TaskEngine | None:
        """Run ``trial`` until it is decided; the engine, or None when it was closed."""
        self.trials.append(trial)
        while True:
            bar = self.best(besides=trial)
            deadline = CUTOFF * (bar.median or 0.0)
            took, outcome = self._timed_map(engine, trial.config.chunk, deadline)
            if outcome == "cut":
                trial.status, trial.at_least_s = "abandoned", deadline
                trial.note = f"cut off at {deadline:.2f} s ({CUTOFF:g}x the best so far)"
                self.say(f"  {trial.config.label()}: {trial.note}")
                return None
            if outcome == "wrong":
                trial.status, trial.note = "wrong", "its answer differs from the plain loop's"
            elif outcome != "ok":
                trial.status, trial.note = "failed", outcome
            if trial.status != "verified":
                self.say(f"  {trial.config.label()}: {trial.status}: {trial.note}")
                return engine
            trial.samples.append(took)
            median = trial.median or 0.0
            if median > BEHIND * (bar.median or 0.0) and (
                len(trial.samples) == 1 or separated(trial.samples, bar.samples)
            ):
                trial.note = f"behind {bar.config.label()}"
                break
            if repetitions.enough(trial.samples, repetitions.DEFAULT_REPEATS, max(trial.samples)):
                break
        shown = f"{_secs(trial.samples)} (predicted {trial.predicted_s:.2f} s) {trial.note}"
        self.say(f"  {trial.config.label()}: {shown.rstrip()}")
        return engine

    def _confirm(self, engine: TaskEngine, name: str) -> None:
        """Bring this engine's best configuration up to LEAD_SAMPLES when it leads or is
        within BEHIND of the lead: the speed-up's interval needs them. When the added
        runs put another of its configurations ahead, that one is brought up next, within
        CONFIRM_BUDGET_S in all."""
        spent = 0.0
        while True:
            mine = [
                t
                for t in self.trials
                if t.counts and t.config.engine == name and t.config.workers == engine.workers
            ]
            if not mine:
                return
            top = min(mine, key=lambda t: t.median or 0.0)
            lead = self.best()
            if (top.median or 0.0) > BEHIND * (lead.median or 0.0):
                return
            if len(top.samples) >= LEAD_SAMPLES or spent + (top.median or 0.0) > CONFIRM_BUDGET_S:
                return
            took, outcome = self._timed_map(engine, top.config.chunk, None)
            if outcome != "ok":
                top.status, top.note = "failed", outcome
                return
            top.samples.append(took)
            spent += took

    def _timed_map(
        self, engine: TaskEngine, chunk: int, deadline_s: float | None
    ) -> tuple[float, str]:
        """(seconds, "ok" | "cut" | "wrong" | the error) of one map; only the map is in
        the timed region (it runs on a thread, so that a deadline can cut it off)."""
        box: dict[str, Any] = {}

        def timed() -> None:
            t0 = time.perf_counter()
            try:
                box["result"] = engine.map(
                    self.fn, self.items, chunksize=chunk if chunk > 1 else None
                )
            except BaseException as exc:  # reported, never lost with the thread
                box["error"] = exc
            box["took"] = time.perf_counter() - t0

        runner = threading.Thread(target=timed, daemon=True, name="advise-map")
        runner.start()
        runner.join(deadline_s)
        if runner.is_alive():
            engine.close()  # the map cannot be recalled: its engine goes
            runner.join(LET_GO_S)
            return 0.0, "cut"
        if "error" in box:
            return box["took"], error_line(box["error"])
        if not self.check(box["result"], self.golden):
            return box["took"], "wrong"
        return box["took"], "ok"


def _secs(samples: list[float]) -> str:
    if len(samples) == 1:
        return f"{samples[0]:.3f} s (one run)"
    return f"median {statistics.median(samples):.3f} s over {len(samples)} runs"
