"""Choose by numbers: the break-even and data-size benchmarks on a real engine, scaling
with --workers, the fits behind them, and the report's section built from them."""

from __future__ import annotations

import json

import pytest

from commands import distlab
from distlab import results
from distlab.bench.break_even import (
    break_even_ms,
    fit_model,
    fit_overhead_ms,
    fitted_break_even_ms,
    summarize_curve,
)
from distlab.report.choose import PER_ELEMENT, SAME_WORK, scaling_rows, serial_fraction
from distlab.report.choose_tables import break_even_sentence, break_even_table
from distlab.report.html_choose import scaling_html
from docs import document


def test_the_overhead_fit_recovers_a_known_overhead():
    o = 0.5
    points = [{"task_ms": d, "efficiency": d / (d + o)} for d in (0.1, 1, 10, 100)]
    assert fit_overhead_ms(points) == pytest.approx(o, rel=0.07)
    # two parameters: no fit from fewer than three points
    assert fit_overhead_ms(points[:2]) is None and fit_overhead_ms(points[:3]) is not None


def test_the_fit_sees_a_ceiling_that_never_reaches_90_percent():
    # an engine whose own processes take a fifth of the cores, 2 ms per task besides
    points = [{"task_ms": d, "efficiency": 0.8 * d / (d + 2.0)} for d in (0.3, 3, 30, 300)]
    o, share = fit_model(points)
    assert o == pytest.approx(2.0, rel=0.07) and share == pytest.approx(0.8, abs=0.01)
    assert fitted_break_even_ms(o, share) is None
    assert fitted_break_even_ms(1.0, 1.0) == pytest.approx(9.0)  # d / (d + 1) = 0.9


def test_break_even_is_interpolated_on_the_log_scale():
    points = [
        {"task_ms": 1.0, "efficiency": 0.5},
        {"task_ms": 10.0, "efficiency": 0.8},
        {"task_ms": 100.0, "efficiency": 1.0},
    ]
    # halfway from 0.8 to 1.0 lies 0.9: halfway from 10 to 100 on a log scale
    assert break_even_ms(points) == pytest.approx(10**1.5)
    assert break_even_ms(points[:2]) is None  # never reached
    assert break_even_ms(points[2:]) == 100.0  # reached at the first point


def _curve(asked, measured, efficiencies):
    return [
        {
            "duration_ms": d,
            "task_ms": t,
            "efficiency": e,
            "efficiency_range": [e * 0.95, min(1.0, e * 1.05)],
            "off_asked": not (1 / 1.5 <= t / d <= 1.5),
            "wall": {"unstable": False},
        }
        for d, t, e in zip(asked, measured, efficiencies, strict=True)
    ]


def test_every_figure_stands_at_the_measured_task_time_not_the_asked_one():
    asked, effs = [0.3, 3.0, 30.0, 300.0], [0.3, 0.7, 0.95, 0.99]
    as_asked = summarize_curve(_curve(asked, asked, effs))
    # a slower machine: every task took twice what was asked, at the same efficiencies
    slow = summarize_curve(_curve(asked, [2 * d for d in asked], effs))
    assert slow["break_even_ms"] == pytest.approx(2 * as_asked["break_even_ms"])
    assert slow["break_even_range_ms"][0] == pytest.approx(2 * as_asked["break_even_range_ms"][0])
    assert slow["overhead_ms"] == pytest.approx(2 * as_asked["overhead_ms"], rel=0.1)
    assert slow["off_asked"] == asked and as_asked["off_asked"] == []
    row = {"engine": "local", "workers": 2, "points": _curve(asked, [2 * d for d in asked], effs)}
    row.update(slow)
    assert "took more than 1.5x more or less" in break_even_sentence(row)
    table = _render(break_even_table([row]))
    assert "asked 0.3 ms" in table and "30% at !0.6 ms" in table


def test_a_crossing_outside_what_was_measured_is_marked_as_such():
    # the shortest task already reaches 90%: the break-even is that or less
    first = {"engine": "local", "workers": 2}
    first.update(summarize_curve(_curve([0.1, 1, 10], [0.1, 1, 10], [0.93, 0.97, 0.99])))
    assert first["break_even_ms"] == 0.1 and first["break_even_at_most"]
    assert "0.1 ms (the shortest measured)" in break_even_sentence(first)
    assert "0.1 ms or less" in _render(break_even_table([{**first, "points": []}]))
    # the fit crosses 90% below the shortest measured task: extrapolated
    assert first["fit_extrapolated"] and first["fit_break_even_ms"] < 0.1
    # a crossing between measured points is a reading, not an extrapolation
    mid = summarize_curve(_curve([0.3, 3, 30, 300], [0.3, 3, 30, 300], [0.3, 0.7, 0.95, 0.99]))
    assert not mid["break_even_at_most"] and not mid["fit_extrapolated"]


def _render(table) -> str:
    from rich.console import Console

    console = Console(width=400, record=True)
    console.print(table)
    return console.export_text()


def test_serial_fraction_follows_amdahl():
    # S(n) = 1 / (f + (1 - f) / n) with f = 0.25: S(2) = 1.6, S(4) = 2.286
    assert serial_fraction([(1, 1.0), (2, 1.6), (4, 1 / (0.25 + 0.75 / 4))]) == pytest.approx(
        0.25, abs=0.002
    )
    assert serial_fraction([(1, 1.0), (2, 2.0), (4, 4.0)]) == pytest.approx(0.0, abs=0.002)
    # through one count beyond one worker any f fits exactly: no fit
    assert serial_fraction([(1, 1.0), (2, 1.6)]) is None
    assert serial_fraction([(1, 1.0)]) is None


def _per_element_cell(workers: int, elements: int, wall_s: float) -> dict:
    """A `numbers` per_element cell as results.json holds it: it ran as many elements as
    fit its time budget, so twice the workers ran about twice the elements."""
    n = 20_000
    return {
        "engine": "local",
        "workload": "numbers",
        "variant": "per_element",
        "status": "ok",
        "verified": True,
        "workers": workers,
        "wall": {"median": wall_s, "min": wall_s * 0.9, "max": wall_s * 1.1, "n": 3},
        "metrics": {"elements": elements, "capped": True, "work_fraction": elements / n},
    }


def _scaling_doc(cells: list[dict], cpus: int):
    return document(cells[-1:], environment={"cpus": cpus}, scaling={"cells": cells})


def test_scaling_compares_equal_work_not_raw_times():
    # the same 0.5 s budget at each count: 2 workers did twice the elements in it
    cells = [_per_element_cell(1, 1000, 0.5), _per_element_cell(2, 2000, 0.5)]
    (row,) = scaling_rows(_scaling_doc(cells, cpus=2))
    one, two = row["points"]
    assert row["basis"] == PER_ELEMENT and row["baseline_workers"] == 1
    assert one["time"]["median"] == pytest.approx(0.5 / 1000)
    assert two["speedup"] == pytest.approx(2.0) and two["efficiency"] == pytest.approx(1.0)
    assert two["speedup_range"] == pytest.approx([2.0 / 1.1, 2.0 / 0.9])
    page = scaling_html(_scaling_doc(cells, cpus=2))
    assert "time per element" in page and "against one worker" in page
    assert "×2.00" in page and "100%" in page


def test_scaling_says_against_which_count_and_fits_only_what_it_can():
    same = [_per_element_cell(n, 20_000, 2.0 / n) for n in (2, 4)]
    for c in same:
        c["metrics"].update(capped=False, work_fraction=1.0)
    (row,) = scaling_rows(_scaling_doc(same, cpus=8))
    assert row["basis"] == SAME_WORK and row["baseline_workers"] == 2
    two, four = row["points"]
    # twice the pace of two workers: a speed-up of 2 against them, not 4 against one
    assert four["speedup"] == pytest.approx(2.0) and four["efficiency"] == pytest.approx(1.0)
    assert row["serial_fraction"] is None and "one worker was not measured" in row["fit_note"]
    assert "against 2 workers (one was not measured)" in scaling_html(_scaling_doc(same, 8))
    # one worker and a single count beyond it: no fit
    cells = [_per_element_cell(1, 1000, 0.5), _per_element_cell(2, 2000, 0.5)]
    (row,) = scaling_rows(_scaling_doc(cells, cpus=8))
    assert row["serial_fraction"] is None and "two or more counts" in row["fit_note"]
    # 1, 2 and 4 workers on a 2-CPU machine: 4 is flagged and left out of the fit
    cells.append(_per_element_cell(4, 4000, 0.9))
    (row,) = scaling_rows(_scaling_doc(cells, cpus=2))
    assert [p["above_cpus"] for p in row["points"]] == [False, False, True]
    assert row["serial_fraction"] is None and "within the 2 CPUs" in row["fit_note"]
    assert "4 workers (&gt; 2 CPUs)" in scaling_html(_scaling_doc(cells, cpus=2))
    (row,) = scaling_rows(_scaling_doc(cells, cpus=8))
    assert row["serial_fraction"] is not None and "fitted on 2, 4 workers" in row["fit_note"]


def test_break_even_bench_on_the_process_pool(tmp_path):
    res = distlab(
        "bench", "break-even", "--engines", "local", "--durations", "0.3,3,30",
        "--point-s", "0.3", "--repeats", "2", "--out", str(tmp_path),
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads((tmp_path / "bench-break-even.json").read_text())
    (row,) = doc["rows"]
    assert "error" not in row, row
    assert [p["duration_ms"] for p in row["points"]] == [0.3, 3.0, 30.0]
    for p in row["points"]:
        # an efficiency is ideal / measured: it cannot exceed 1 beyond timing noise
        assert 0 < p["efficiency"] <= 1.05 and p["tasks"] % row["workers"] == 0
        assert p["efficiency_range"][0] <= p["efficiency"] <= p["efficiency_range"][1]
        # the task time is measured on the workers, one sample per task of every
        # measured run, and the efficiency is computed from it, whatever was asked
        assert p["task"]["n"] == p["tasks"] * 2 and p["task"]["median"] == p["task_ms"] > 0
        assert p["task"]["min"] <= p["task_ms"] <= p["task"]["max"]
        ideal = p["tasks"] * p["task_ms"] / 1e3 / row["workers"]
        assert p["efficiency"] == pytest.approx(ideal / p["wall"]["median"])
        assert p["off_asked"] == (not 1 / 1.5 <= p["task_ms"] / p["duration_ms"] <= 1.5)
    assert row["overhead_ms"] > 0
    assert "local" in res.stdout and "90%" in res.stdout and "asked 0.3 ms" in res.stdout


def test_data_size_bench_verifies_and_says_where_it_stops(tmp_path):
    res = distlab(
        "bench", "data-size", "--engines", "local", "--sizes", "1KB,1MB", "--frame", "64KB",
        "--repeats", "2", "--out", str(tmp_path / "ok.json"),
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    (row,) = json.loads((tmp_path / "ok.json").read_text())["rows"]
    assert [(p["payload"], p["bytes"]) for p in row["points"]] == [
        ("array", 1024),
        ("array", 1024 * 1024),
        ("DataFrame", 65536),
    ]
    for p in row["points"]:
        for way in ("argument", "result", "shared"):
            assert p[way]["wall"]["n"] == 2 and p[way]["mb_per_s"] > 0, p
            # the payload once per round trip, also when 2 tasks per worker read it
            rate = p["bytes"] / 2**20 / p[way]["wall"]["median"]
            assert p[way]["mb_per_s"] == pytest.approx(rate), (way, p[way])
        assert p["shared"]["tasks"] == 2 * row["workers"]
    assert set(row["copies"]) == {"argument", "result", "shared"}
    assert "counted once per round trip" in " ".join(res.stdout.split())
    # a round trip that cannot finish in time: that size fails with its reason, and
    # the larger sizes of that way are not tried
    res = distlab(
        "bench", "data-size", "--engines", "local", "--sizes", "1MB,4MB", "--frame", "0",
        "--repeats", "1", "--timeout", "0.000001", "--out", str(tmp_path / "stop.json"),
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    (row,) = json.loads((tmp_path / "stop.json").read_text())["rows"]
    first, second = row["points"]
    assert "error" in first["argument"] and "not tried" in second["argument"]["skipped"]
    assert "failed" in res.stdout


def test_scaling_with_several_worker_counts_and_the_report(tmp_path):
    out = tmp_path / "run"
    res = distlab(
        "run", "--engines", "local", "--workloads", "squares", "--size", "tiny",
        "--workers", "1,2", "--repeats", "1", "--out", str(out),
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["scaling"]["worker_counts"] == [1, 2]
    assert sorted(c["workers"] for c in doc["scaling"]["cells"]) == [1, 2]
    assert [c["workers"] for c in doc["cells"]] == [2]  # the run's cells: the largest count
    one, two = sorted(doc["scaling"]["cells"], key=lambda c: c["workers"])
    # squares sleeps: two workers take about half as long as one
    assert one["wall"]["median"] / two["wall"]["median"] > 1.4
    # benches written into the same directory join the report's section
    bench = distlab(
        "bench", "break-even", "--engines", "local", "--durations", "1,10",
        "--point-s", "0.2", "--repeats", "1", "--out", str(out),
    )  # fmt: skip
    assert bench.returncode == 0, bench.stderr
    rebuilt = distlab("report", str(out))
    assert rebuilt.returncode == 0, rebuilt.stderr
    page = (out / "report.html").read_text()
    assert 'id="choose-section"' in page and 'id="scaling"' in page
    assert 'id="break-even"' in page and "How small can a task be" in page
    # every row of the table has as many cells as its head
    table = page[page.index('id="break-even"') :]
    table = table[: table.index("</table>")]
    head = table[: table.index("</thead>")].count("<th>")
    assert all(row.count("<td") == head for row in table.split("<tr>")[2:]), table
    assert (out / "plots" / "scaling.png").is_file()
    assert (out / "plots" / "break_even.png").is_file()


def test_one_task_per_element_scales_per_element_on_the_process_pool(tmp_path):
    """Its run fills a time budget, so two workers compute more elements than one: the
    scaling figures compare the time per element, not the two runs' times."""
    out = tmp_path / "run"
    res = distlab(
        "run", "--engines", "local", "--workloads", "numbers", "--size", "tiny",
        "--workers", "1,2", "--repeats", "1", "--param", "numbers.per_element_cap=20000",
        "--param", "numbers.per_element_budget_s=0.1", "--out", str(out),
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    cells = {c["workers"]: c for c in doc["scaling"]["cells"] if c["variant"] == "per_element"}
    # each count ran the elements its budget allowed at its own measured task overhead
    assert cells[1]["metrics"]["elements"] != cells[2]["metrics"]["elements"]
    per_element = {n: c["wall"]["median"] / c["metrics"]["elements"] for n, c in cells.items()}
    (row,) = [r for r in scaling_rows(results.load(out)) if r["variant"] == "per_element"]
    assert row["basis"] == PER_ELEMENT
    one, two = row["points"]
    assert two["speedup"] == pytest.approx(per_element[1] / per_element[2])
    assert "time per element" in (out / "report.html").read_text()
