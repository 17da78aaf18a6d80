"""`distlab advise`: bad input is one line before anything starts; advice on real engines
is verified against the plain loop and shows the model beside the measurements; a model
3x off on one configuration is caught by the race, and the answer follows the race."""

from __future__ import annotations

from pathlib import Path

import pytest

import distlab as dl
from advise_work import heavy, small, where
from clusters import dask_cluster
from commands import distlab
from distlab.advice.answer import distlab_code, native_code
from distlab.advice.model import Config, Model
from distlab.advice.profile import Profile
from distlab.advice.race import LEAST_ERROR, Race, Trial, same

WORK = Path(__file__).with_name("advise_work.py")


def _advise_cli(fn: str, items: str, *more: str):
    return distlab("advise", f"{WORK}:{fn}", "--items", f"{WORK}:{items}", *more, timeout=300)


@pytest.mark.parametrize(
    ("fn", "items", "says"),
    [
        ("locked", "numbers", "cannot be sent to workers"),
        ("small", "items_that_fail", "the database is down"),
        ("small", "items_with_a_lock", "item #2 cannot be sent to workers"),
        ("fails_on_seven", "numbers", "failed on item #7: ValueError: seven is not allowed"),
        ("small", "numbers", "unknown engine 'nosuch'"),
        ("small", "numbers", "--rtt, --loss and --rate go with --hosts"),
        ("small", "numbers", "give --hosts or --address, not both"),
        ("small", "numbers", "--address expects ENGINE=VALUE"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_anything_starts(fn, items, says):
    more = {
        "nosuch": ("--engines", "nosuch"),
        "--rtt": ("--rtt", "20ms"),
        "not both": ("--hosts", "3", "--address", "dask=tcp://127.0.0.1:1"),
        "ENGINE=VALUE": ("--address", "dask"),
    }
    res = _advise_cli(fn, items, *next((v for k, v in more.items() if k in says), ()))
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert says in lines[0]
    # nothing ran: no profile, no loop, no engine line on stdout
    assert res.stdout.strip() == ""


def test_a_small_function_gets_a_verified_answer_and_the_table(tmp_path):
    advice = dl.advise(small, range(1000), engines=["local", "dask"])
    loop = advice.trials[0]
    assert loop.config.is_loop and loop.samples
    engines_run = {t.config.engine for t in advice.trials[1:]}
    assert engines_run, "no engine configuration was raced"
    assert {c.engine for c in advice.costs} == {"local", "dask"}
    for t in advice.trials:
        assert t.status in ("verified", "abandoned"), (t.config, t.status, t.note)
        assert t.predicted_s > 0
    counted = [t for t in advice.trials if t.counts]
    fastest = min(counted, key=lambda t: t.median)
    assert advice.recommended is fastest
    text = advice.text()
    assert "predicted against measured" in text
    for t in advice.trials:
        assert t.config.label() in text
    if advice.stay:
        assert "stay on one process" in advice.verdict
    else:
        assert advice.speed_up is not None and advice.speed_up.low > 1.0
        assert f'distlab.engine("{fastest.config.engine}"' in advice.code
        assert "own API" in text


def test_an_engine_whose_answer_differs_is_never_recommended():
    advice = dl.advise(where, range(40), engines=["local"])
    engine_trials = [t for t in advice.trials if not t.config.is_loop]
    assert engine_trials and all(t.status == "wrong" for t in engine_trials)
    assert advice.recommended.config.is_loop and advice.stay


class OffBy3(Model):
    """The honest model, but 3x too optimistic on one configuration: one worker with the
    whole input as one task (which in fact takes as long as the plain loop)."""

    made: list[OffBy3] = []

    def __init__(self, profile, costs):
        super().__init__(profile, costs)
        self.target = Config("local", 1, profile.n_items)
        OffBy3.made.append(self)

    def predict(self, config: Config) -> float:
        honest = super().predict(config)
        return honest / 3 if config == self.target else honest


def test_a_model_3x_off_is_caught_and_the_answer_follows_the_measurement():
    OffBy3.made.clear()
    advice = dl.advise(heavy, range(200), engines=["local"], workers=[1, 2], model=OffBy3)
    (model,) = OffBy3.made
    engine_configs = [c for k in advice.costs for c in model.configs(k.engine, k.workers)]
    favourite = min(engine_configs, key=model.predict)
    assert favourite == model.target  # the premise: the skewed model's pick is the target
    (target,) = [t for t in advice.trials if t.config == model.target]
    # caught: measured at least twice what was predicted, recorded as the model's error
    assert target.measured_s >= 2 * target.predicted_s
    assert target.error >= 2 and advice.model_error >= target.error
    table = advice.lines[next(i for i, x in enumerate(advice.lines) if "predicted against" in x) :]
    row = next(line for line in table if model.target.label() in line)
    assert "(slower)" in row
    # the answer follows the race: the fastest measured, two workers, not the target
    counted = [t for t in advice.trials if t.counts]
    assert advice.recommended is min(counted, key=lambda t: t.median)
    assert advice.recommended.config != model.target
    assert advice.recommended.config.workers == 2


def _profile(n: int = 1000, item_s: float = 0.001) -> Profile:
    return Profile(n, 10, item_s, item_s, item_s, 30, 30, 1e-6, None, 1000)


def test_a_bigger_model_error_races_more_configurations():
    race = Race(small, [], Model(_profile(), {}), same, lambda line: None)
    race.trials.append(Trial(Config("loop", 1, 1), 1.0, samples=[1.0]))
    measured = Trial(Config("local", 2, 10), 0.5, samples=[0.55])
    race.trials.append(measured)
    # the model was 1.1x off: its error counts as LEAST_ERROR; a configuration predicted
    # at 1.5 s against the best measured 0.55 s cannot win
    assert race.error() == LEAST_ERROR
    assert not race.worth_running(1.5)
    # another configuration 3x off: 1.5 s predicted could now be 0.5 s: it runs
    race.trials.append(Trial(Config("local", 2, 100), 0.3, samples=[0.9]))
    assert race.error() == pytest.approx(3.0)
    assert race.worth_running(1.5)


def test_the_cli_prints_the_table_and_the_answer():
    res = _advise_cli("small", "numbers", "--engines", "local")
    assert res.returncode == 0, res.stderr
    assert "predicted against measured" in res.stdout
    assert "plain loop (one process)" in res.stdout
    assert "advice took" in res.stdout
    assert ("stay on one process" in res.stdout) or ("with distlab:" in res.stdout)


@pytest.mark.parametrize("engine", ["local", "dask", "ray"])
@pytest.mark.parametrize("chunk", [1, 50])
def test_the_printed_code_is_python(engine, chunk):
    trial = Trial(Config(engine, 2, chunk), 1.0, samples=[1.0])
    for code in (
        distlab_code(trial, ("mywork", "simulate"), "mywork.py:make_inputs"),
        native_code(trial, ("mywork", "simulate"), "mywork:make_inputs"),
    ):
        compile(code, f"<{engine} chunk={chunk}>", "exec")  # a SyntaxError fails the test
        assert "from mywork import simulate" in code
        assert "from mywork import make_inputs" in code
    if chunk > 1:
        assert "50" in native_code(trial, ("mywork", "simulate"), None)


def test_advice_on_a_running_cluster_calibrates_there_and_prints_its_address():
    """--address: the cluster's own workers, its round trip measured, the code pointed at it."""
    with dask_cluster(nworkers=2) as address:
        advice = dl.advise(heavy, range(40), engines=["local"], addresses={"dask": address})
    dask = next(c for c in advice.costs if c.engine == "dask")
    assert dask.where == address and dask.workers == 2 and dask.round_trip_s > 0
    assert dask.task_cost_from == "measured now"
    # whether a Dask configuration is raced depends on its prediction against the pool
    # measured here; the code for one is pointed at the cluster either way
    trial = Trial(Config("dask", dask.workers, 10), 1.0, samples=[1.0])
    assert f'Client("{address}")' in native_code(trial, ("m", "f"), None, address)
    assert f'address="{address}"' in distlab_code(trial, ("m", "f"), None, address)


def test_a_recent_bench_of_this_machine_stands_in_for_the_per_task_cost(tmp_path):
    """The newest bench tiny-tasks of this machine and versions gives the per-task cost;
    one of other versions does not."""
    import os
    import socket

    from distlab import registry
    from distlab.advice.recent import bench_task_cost
    from distlab.results import history as store
    from distlab.results import library_versions

    path = tmp_path / "history.sqlite"
    here = store.machine_identity(socket.gethostname(), os.cpu_count())
    versions = library_versions(registry.entry("local").libraries)
    for per_task, found in ((0.002, versions), (0.005, {"python": "0.0"})):
        entry = store.CellEntry("local", "tiny-tasks", "adapter",
                                "n=1000 repeats=3 round_trips=10 workers=-",
                                [per_task * 1000] * 3, found)  # fmt: skip
        store.append(path, store.Recording("bench tiny-tasks", here, "test"), [entry])
    cost, source = bench_task_cost("local", os.cpu_count() or 1, path)
    assert cost == pytest.approx(0.002) and source.startswith("bench tiny-tasks of ")
    assert bench_task_cost("local", 64, path) is None  # another worker count
    advice = dl.advise(small, range(200), engines=["local"], history=path)
    assert advice.costs[0].task_s == pytest.approx(0.002)
    assert advice.costs[0].task_cost_from == source
