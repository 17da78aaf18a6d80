"""The history: the SQLite store, step detection and its verdicts, `distlab history`, and
that a run appends to it and its report compares with the last run on this machine."""

from __future__ import annotations

import random
import sqlite3

import pytest

from commands import distlab
from distlab.report.history import regressions, series_of
from distlab.report.history_cells import bench_entries
from distlab.report.history_steps import detect
from distlab.results import history as store
from distlab.stats import shift_interval

MACHINE = "testhost/2 cpus"


def _synthetic(path, seed: int, step: float, points: int = 10, at: int = 5) -> None:
    """A history of ``points`` recordings of two cells, 5 repetitions each with 3%
    log-normal noise; dask's cell moves by ``step`` from recording ``at`` on, where its
    version goes from 2026.7.0 to 2026.8.0 (ray's never moves nor changes)."""
    rng = random.Random(seed)
    for i in range(points):
        version = "2026.7.0" if i < at else "2026.8.0"
        level = step if i >= at else 1.0
        recording = store.Recording(
            "bench tiny-tasks", MACHINE, "0.1.0", 0.19,
            recorded_at=f"2026-12-01T10:{i:02d}:00+00:00",
        )  # fmt: skip
        store.append(
            path,
            recording,
            [
                store.CellEntry(
                    "dask", "tiny-tasks", "adapter", "n=1000",
                    [0.5 * level * rng.lognormvariate(0, 0.03) for _ in range(5)],
                    {"dask": version, "distributed": version},
                ),
                store.CellEntry(
                    "ray", "tiny-tasks", "adapter", "n=1000",
                    [0.3 * rng.lognormvariate(0, 0.03) for _ in range(5)],
                    {"ray": "2.60.0"},
                ),
            ],
        )  # fmt: skip


def test_store_round_trip(tmp_path):
    path = tmp_path / "h.sqlite"
    first = store.Recording("run", MACHINE, "0.1.0+gabc", 0.2, "/x/results.json")
    entry = store.CellEntry("local", "squares", "-", "size=tiny workers=2", [0.3, 0.1, 0.2],
                            {"psutil": "7.0"})  # fmt: skip
    rid = store.append(path, first, [entry, store.CellEntry("local", "numbers", "-", "s", [])])
    store.append(path, store.Recording("bench tiny-tasks", "other/4 cpus", "0.1.0"),
                 [store.CellEntry("dask", "tiny-tasks", "native", "n=10", [1.0], {})])  # fmt: skip
    points = store.load(path)
    assert [p.entry.engine for p in points] == ["local", "dask"]  # the empty cell is left out
    got = points[0]
    assert got.entry == entry and got.entry.median_s == 0.2
    assert got.recording.id == rid and got.recording.machine == MACHINE
    assert (got.recording.speed_s, got.recording.code_version) == (0.2, "0.1.0+gabc")
    assert got.recording.results_path == "/x/results.json"
    assert [p.entry.variant for p in store.load(path, engine="dask", variant="native")] == [
        "native"
    ]
    assert store.load(path, workload="nothing") == []
    # one series per cell and machine
    assert len(series_of(points)) == 2


def test_history_path_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv(store.ENV_VAR, raising=False)
    assert store.resolve(None) == store.RESULTS_ROOT / "history.sqlite"
    assert store.resolve("none") is None and store.resolve("OFF") is None
    monkeypatch.setenv(store.ENV_VAR, str(tmp_path / "env.sqlite"))
    assert store.resolve(None) == tmp_path / "env.sqlite"
    assert store.resolve(str(tmp_path / "x.sqlite")) == tmp_path / "x.sqlite"


@pytest.mark.parametrize("seed", range(5))
def test_a_20_percent_step_after_a_version_is_flagged_and_named(tmp_path, seed):
    path = tmp_path / "h.sqlite"
    _synthetic(path, seed, step=1.2)
    verdicts = {v.series.engine: v for v in regressions(store.load(path))}
    flagged = verdicts["dask"].flagged
    assert len(flagged) == 1, [s.row for s in verdicts["dask"].steps]
    step = flagged[0]
    assert step.row.verdict == "regression"
    assert 1.12 < step.row.ratio < 1.3
    # the step sits between the last 2026.7.0 entry and the first 2026.8.0 one
    assert step.before.entry.versions["dask"] == "2026.7.0"
    assert step.after.entry.versions["dask"] == "2026.8.0"
    assert "dask 2026.7.0 -> 2026.8.0" in step.changes
    assert not verdicts["ray"].flagged


@pytest.mark.parametrize("seed", range(5))
def test_the_same_noise_without_a_step_is_not_flagged(tmp_path, seed):
    path = tmp_path / "h.sqlite"
    _synthetic(path, seed, step=1.0)
    verdicts = regressions(store.load(path))
    assert len(verdicts) == 2
    assert all(not v.flagged for v in verdicts)
    for v in verdicts:  # no step: the latest ratio with its interval instead
        assert v.latest is not None and v.latest.low <= v.latest.ratio <= v.latest.high
        assert v.latest.changes == []  # recordings 8 and 9: same versions, same distlab


def test_step_detection_finds_the_step_and_no_more():
    rng = random.Random(7)
    noisy = [[rng.lognormvariate(0, 0.03) for _ in range(5)] for _ in range(12)]
    assert len(detect(noisy)) == 1
    stepped = [[x * (1.2 if i >= 8 else 1.0) for x in s] for i, s in enumerate(noisy)]
    segments = detect(stepped)
    assert [(s.start, s.end) for s in segments] == [(0, 8), (8, 12)]
    assert segments[1].level / segments[0].level == pytest.approx(1.2, rel=0.05)


def test_shift_interval_is_the_exact_mann_whitney_interval():
    estimate, low, high, coverage = shift_interval([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    # 25 differences 1..9; P(U <= 2) = 4/252 is the largest tail within 2.5%: cut 3 a side
    assert (estimate, low, high) == (5.0, 2.0, 8.0)
    assert coverage == pytest.approx(1 - 2 * 4 / 252)
    # 2 against 2 cannot reach 95%: the whole range, with what it does reach
    assert shift_interval([1, 2], [3, 4])[1:] == (1.0, 3.0, pytest.approx(2 / 3))


def test_bench_rows_enter_as_one_cell_per_list_of_seconds():
    rows = [
        {"engine": "local", "n": 10, "adapter_samples_s": [0.2, 0.1], "native_samples_s": [0.1],
         "adapter_rt_ms": {"p50": 1.0, "p99": 2.0}, "startup_s": 0.5},
        {"engine": "dask", "error": "could not start"},
        {"engine": "local", "sweep": [{"batch_size": 100, "wall_s": 1.0, "samples": [1.0, 1.1]}]},
    ]  # fmt: skip
    entries = bench_entries("tiny-tasks", rows, {"n": 10, "workers": None})
    assert [(e.engine, e.variant, e.samples) for e in entries] == [
        ("local", "adapter", [0.2, 0.1]),
        ("local", "native", [0.1]),
        ("local", "sweep[batch_size=100]", [1.0, 1.1]),
    ]
    assert entries[0].settings == "n=10 workers=-"
    assert entries[0].versions == {}  # the local engine records no library of its own


def test_history_command_lists_and_flags(tmp_path):
    path = tmp_path / "h.sqlite"
    _synthetic(path, 1, step=1.2)
    listed = distlab("history", "--history", str(path), "--engine", "dask")
    assert listed.returncode == 0, listed.stderr
    assert "dask / tiny-tasks / adapter" in listed.stdout and "2026.8.0" in listed.stdout
    assert "ray" not in listed.stdout
    flagged = distlab("history", "--history", str(path), "--regressions")
    assert flagged.returncode == 0, flagged.stderr
    assert "regression: dask / tiny-tasks / adapter" in flagged.stdout
    assert "dask 2026.7.0 -> 2026.8.0" in flagged.stdout
    assert "1 step(s) beyond noise in 2 series" in flagged.stdout
    assert "no step: ray / tiny-tasks / adapter: latest/previous" in flagged.stdout
    # an upgrade that moved nothing: no step, the interval, and the change it came with
    upgrade = tmp_path / "upgrade.sqlite"
    _synthetic(upgrade, 2, step=1.0, points=2, at=1)
    quiet = distlab("history", "--history", str(upgrade), "--regressions", "--engine", "dask")
    assert quiet.returncode == 0, quiet.stderr
    assert "0 step(s) beyond noise in 1 series" in quiet.stdout
    assert "between them: dask 2026.7.0 -> 2026.8.0" in quiet.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--history", "{tmp}/missing.sqlite"], "no history at"),
        (["--history", "{tmp}/h.sqlite", "--engine", "nosuch"], "no cell of engine nosuch"),
        (["--history", "{tmp}/h.sqlite", "--workload", "x", "--regressions"], "no cell of"),
        (["--history", "{tmp}/garbage.sqlite"], "is not a readable distlab history"),
        (["--history", "{tmp}/other.sqlite"], "is not a distlab history"),
        (["--history", "none"], "no history to read"),
        (["--history", "{tmp}"], "is a directory"),
    ],
)
def test_history_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    _synthetic(tmp_path / "h.sqlite", 0, step=1.0, points=2)
    (tmp_path / "garbage.sqlite").write_bytes(b"not a database at all" * 100)
    with sqlite3.connect(tmp_path / "other.sqlite") as conn:
        conn.execute("CREATE TABLE t (x)")
    res = distlab("history", *[a.format(tmp=tmp_path) for a in args])
    assert res.returncode == 2
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_run_appends_to_the_history_and_the_report_compares_with_the_last_run(tmp_path):
    history = tmp_path / "h.sqlite"
    run = ["run", "--engines", "local", "--workloads", "squares", "--size", "tiny",
           "--history", str(history)]  # fmt: skip
    first = distlab(*run, "--out", str(tmp_path / "first"), "--no-report")
    assert first.returncode == 0, first.stderr
    assert f"cells appended to {history}" in first.stdout
    points = store.load(history)
    assert points and {p.entry.engine for p in points} == {"local"}
    assert {p.entry.workload for p in points} == {"squares"}
    recording = points[0].recording
    assert recording.source == "run" and recording.speed_s and recording.speed_s > 0
    assert recording.results_path == str((tmp_path / "first" / "results.json").resolve())
    assert recording.code_version.startswith("0.")
    assert all(p.entry.settings.startswith("size=tiny") and p.entry.samples for p in points)

    second = distlab(*run, "--out", str(tmp_path / "second"))
    assert second.returncode == 0, second.stderr
    assert len({p.recording.id for p in store.load(history)}) == 2
    page = (tmp_path / "second" / "report.html").read_text()
    assert "Since the last run on this machine" in page
    assert 'id="since-table"' in page and "squares" in page
    # the first run's report, rebuilt, has no earlier run to compare with
    rebuilt = distlab("report", str(tmp_path / "first"), "--history", str(history))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "Since the last run" not in (tmp_path / "first" / "report.html").read_text()


def test_history_none_records_nothing(tmp_path):
    res = distlab("run", "--engines", "local", "--workloads", "squares", "--size", "tiny",
                  "--out", str(tmp_path / "r"), "--no-report", "--history", "none",
                  "--repeats", "1", "--warmup", "0")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "history:" not in res.stdout
    assert not list(tmp_path.rglob("*.sqlite"))
