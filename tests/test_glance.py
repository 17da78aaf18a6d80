"""The report at a glance (distlab.report.glance): the figure per row, its distance from
the row's best, winners only where the spread separates them, and the terminal summary
that fits 100 columns. Documents built here: the rules are checked exactly."""

from __future__ import annotations

import io
import math
import re

from rich.console import Console

from distlab.report.glance import glance, ratio_class
from distlab.report.html import build_report
from distlab.report.terminal import print_summary
from distlab.report.verdict import headline, shape_sentences
from docs import cell, document


def _time_cell(engine: str, workload: str, samples: list[float], variant: str = "-") -> dict:
    return {
        "engine": engine, "workload": workload, "variant": variant, "status": "ok",
        "verified": True, "wall_s": sorted(samples)[len(samples) // 2],
        "wall": {"n": len(samples), "median": sorted(samples)[len(samples) // 2],
                 "min": min(samples), "max": max(samples), "samples": samples},
        "metrics": {"work_fraction": 1.0},
    }  # fmt: skip


def _doc():
    rr = {
        "latency_samples_ms": [20.0 + i % 3 for i in range(60)],
        "job_ms": 20.0,
        "engine_share_ms": {"p50": 1.0, "p99": 2.0},
        "work_fraction": None,
    }
    rr_slow = {
        **rr,
        "latency_samples_ms": [30.0 + i % 3 for i in range(60)],
        "engine_share_ms": {"p50": 11.0, "p99": 12.0},
    }
    sweep = {"max_sustained_rate": 80_000, "plan": {"precision": 0.1}, "work_fraction": None}
    cells = [
        # squares: dask clearly ahead (ranges apart, five repetitions each), ray 3x off
        _time_cell("dask", "squares", [1.0, 1.01, 1.02, 1.0, 1.01]),
        _time_cell("ray", "squares", [3.0, 3.1, 3.05, 3.0, 3.02]),
        {"engine": "kafka", "workload": "squares", "variant": "-", "status": "failed",
         "error": "WorkerLost: boom"},
        # kfold: within the noise, no winner
        _time_cell("dask", "kfold", [1.0, 1.3, 1.1], "shared"),
        _time_cell("ray", "kfold", [1.05, 1.2, 1.25], "shared"),
        {"engine": "kafka", "workload": "kfold", "variant": "-", "status": "unsupported",
         "reason": "no shared objects"},
        {**_time_cell("dask", "jobs", [1.0], "request_response"), "metrics": rr},
        {**_time_cell("ray", "jobs", [1.0], "request_response"), "metrics": rr_slow},
        {**_time_cell("kafka", "stream", [1.0], "sweep"), "metrics": sweep},
        {**_time_cell("ray", "stream", [1.0], "sweep"),
         "metrics": {**sweep, "max_sustained_rate": 76_000}},
        {**_time_cell("dask", "stream", [1.0], "sweep"),
         "metrics": {**sweep, "max_sustained_rate": None}},
    ]  # fmt: skip
    return document(cells)


def test_rows_figures_ratios_and_winners():
    engines, rows = glance(_doc())
    assert engines == ["dask", "ray", "kafka"]
    by = {(r.workload, r.variant): r for r in rows}
    squares = by[("squares", "-")]
    assert squares.kind == "time"
    assert squares.cells["dask"].winner and squares.cells["dask"].css == "r1"
    assert (
        math.isclose(squares.cells["ray"].ratio, 3.02 / 1.01) and squares.cells["ray"].css == "r3"
    )
    assert squares.cells["kafka"].status == "failed" and squares.cells["kafka"].text == "failed"
    kfold = by[("kfold", "shared")]
    assert kfold.winner is None  # min-max ranges overlap
    assert kfold.cells["kafka"].status == "n/a"  # its variant-less cell stands in the row
    jobs = by[("jobs", "request_response")]
    assert jobs.kind == "overhead" and jobs.cells["dask"].value == 1.0
    assert jobs.cells["dask"].winner  # 60 round trips each, 10 ms apart
    assert jobs.cells["ray"].ratio == 11.0 and jobs.cells["ray"].css == "r5"
    stream = by[("stream", "sweep")]
    assert stream.kind == "rate" and stream.higher_is_better
    assert stream.cells["kafka"].ratio == 1.0 and stream.cells["kafka"].text == "80k/s"
    assert not stream.cells["kafka"].winner  # 80k vs 76k: within the search's 10%
    assert stream.cells["dask"].text == "none" and stream.cells["dask"].css == "r5"


def _row(cells: list[dict]):
    (row,) = glance(document(cells))[1]
    return row


def test_a_star_needs_95_percent_confidence_not_disjoint_ranges():
    # one run against one run: ranges always apart, never a verdict
    row = _row([_time_cell("dask", "squares", [1.0]), _time_cell("ray", "squares", [1.2])])
    assert row.winner is None
    # two repetitions each, every one apart: the test cannot reach 95% with 2 against 2
    row = _row(
        [_time_cell("dask", "squares", [1.0, 1.01]), _time_cell("ray", "squares", [2.0, 2.1])]
    )
    assert row.winner is None
    # five against three, every one apart: p = 0.036, a star
    fast = _time_cell("dask", "squares", [1.0, 1.01, 1.02, 1.0, 1.01])
    row = _row([fast, _time_cell("ray", "squares", [1.6, 1.7, 1.65])])
    assert row.winner == "dask"
    # as significant, but only 3% apart: real within this run, no reason to pick an engine
    row = _row([fast, _time_cell("ray", "squares", [1.05, 1.06, 1.055])])
    assert row.winner is None
    # the same two engines, repetitions interleaved: no star however many
    row = _row([
        _time_cell("dask", "squares", [1.0, 1.2, 1.1, 1.3, 1.05, 1.25]),
        _time_cell("ray", "squares", [1.02, 1.22, 1.12, 1.31, 1.07, 1.27]),
    ])  # fmt: skip
    assert row.winner is None


def test_only_separated_wins_count_in_the_sentences():
    # ray has the lower median on both rows, but within the noise each time
    rows = glance(
        document([
            _time_cell("ray", "squares", [1.0, 1.3]),
            _time_cell("dask", "squares", [1.1, 1.2]),
            _time_cell("ray", "kfold", [1.0, 1.3], "shared"),
            _time_cell("dask", "kfold", [1.1, 1.2], "shared"),
        ])  # fmt: skip
    )[1]
    assert all(r.winner is None for r in rows)
    ((_shape, text, pick),) = shape_sentences(rows)
    assert pick is None and "no clear pick" in text
    assert headline(rows) == "On this machine: no clear pick for tasks."


def test_a_colour_is_claimed_from_the_end_of_the_ratio_nearer_the_best():
    best = _time_cell("dask", "squares", [1.0, 1.0, 1.0, 1.0, 1.0])
    # median 2.9x the best (r3), but its runs reach 3.5x (r4): r3 with r4's stripes
    wide = _time_cell("ray", "squares", [2.0, 2.9, 3.5])
    # median 1.6x (r3), its range 1.4x-1.7x: from its near end, r2
    near = _time_cell("celery", "squares", [1.4, 1.6, 1.7])
    row = _row([best, wide, near])
    assert row.cells["ray"].css == "r3" and row.cells["ray"].far_css == "r4"
    assert row.cells["ray"].ratio_range == (2.0, 3.5)
    assert row.cells["celery"].css == "r2" and row.cells["celery"].far_css == "r3"
    assert row.cells["dask"].far_css == ""


def test_stream_figures_carry_their_roughness_and_their_bracket():
    lat = {"latency_ms": {"p50": 5.0, "p99": 9.0}, "work_fraction": None}
    row = _row([
        {**_time_cell("dask", "stream", [1.0], "fixed_rate"), "metrics": lat},
        {**_time_cell("ray", "stream", [1.0], "fixed_rate"),
         "metrics": {**lat, "latency_ms": {"p50": 6.0, "p99": 30.0}}},
    ])  # fmt: skip
    assert row.kind == "p99" and row.cells["dask"].text == "~9.0ms" and row.winner is None
    sweep = {"max_sustained_rate": 32_000, "first_failed_rate": 64_000, "work_fraction": None,
             "plan": {"max_rate": 128_000}}  # fmt: skip
    row = _row([
        {**_time_cell("kafka", "stream", [1.0], "sweep"), "metrics": sweep},
        {**_time_cell("dask", "stream", [1.0], "sweep"),
         "metrics": {**sweep, "max_sustained_rate": 128_000, "first_failed_rate": None}},
        {**_time_cell("ray", "stream", [1.0], "sweep"),
         "metrics": {**sweep, "max_sustained_rate": 64_000, "first_failed_rate": 128_000}},
    ])  # fmt: skip
    assert row.cells["kafka"].text == "32k-64k/s" and row.cells["dask"].text == "≥128k/s"
    # ray failed at 128k, which dask sustained, but only once: not yet a verdict
    assert row.winner is None
    cells = [
        {**_time_cell("dask", "stream", [1.0], "sweep"),
         "metrics": {**sweep, "max_sustained_rate": 128_000, "first_failed_rate": None,
                     "confirmed": True}},
        {**_time_cell("ray", "stream", [1.0], "sweep"),
         "metrics": {**sweep, "max_sustained_rate": 64_000, "first_failed_rate": 128_000}},
    ]  # fmt: skip
    assert _row(cells).winner == "dask"  # sustained twice where ray failed
    # a search the sender could not keep up with measured nothing of the engine: grey
    limited = {**sweep, "max_sustained_rate": None, "first_failed_rate": 32_000,
               "sender_limited": True}  # fmt: skip
    row = _row([*cells, {**_time_cell("kafka", "stream", [1.0], "sweep"), "metrics": limited}])
    assert row.cells["kafka"].text == "sender-limited" and row.cells["kafka"].css == "n/a"
    # p99s from three trials each holding 100 events beyond their p99: firm when the
    # trials agree within +-10%
    firm = {**lat, "trials": 3, "passed_filter": 10_000,
            "latency_spread_ms": {"p99": [8.5, 9.5]}}  # fmt: skip
    row = _row([
        {**_time_cell("dask", "stream", [1.0], "fixed_rate"), "metrics": firm},
        {**_time_cell("ray", "stream", [1.0], "fixed_rate"),
         "metrics": {**firm, "latency_ms": {"p50": 6.0, "p99": 30.0},
                     "latency_spread_ms": {"p99": [12.0, 45.0]}}},
    ])  # fmt: skip
    assert row.cells["dask"].text == "9.0ms" and row.cells["ray"].text == "~30ms"
    # ray's ratio lies between 12 / 9.5 and 45 / 8.5: from its near end, r2, striped r4
    assert row.cells["ray"].css == "r2" and row.cells["ray"].far_css == "r4"


def test_a_capped_run_is_ranked_by_its_own_extrapolations():
    capped = _time_cell("ray", "numbers", [0.5, 0.52, 0.51], "per_element")
    capped["metrics"] = {"work_fraction": 0.01, "elements": 500, "capped": True,
                         "extrapolated_full_s": 20.5, "full_samples_s": [20.0, 21.0, 20.5]}  # fmt: skip
    whole = _time_cell("dask", "numbers", [30.0, 31.0, 30.5], "per_element")
    row = _row([capped, whole])
    # fixed cost once, per-element cost for every element: 20.5 s, not 0.51 / 0.01 = 51 s
    assert row.cells["ray"].value == 20.5 and row.cells["dask"].ratio == 30.5 / 20.5
    assert row.cells["ray"].note == "extrapolated from 500 of 50,000 elements"
    from distlab.report.figures import extrapolated_full_s, full_median

    capped = cell(capped)
    assert extrapolated_full_s(capped) == full_median(capped) == 20.5


def test_ratio_classes_and_sentences():
    assert [ratio_class(x) for x in (1.0, 1.2, 2.0, 5.0, 11.0, None)] == [
        "r1", "r2", "r3", "r4", "r5", "none",
    ]  # fmt: skip
    _engines, rows = glance(_doc())
    sentences = {shape: (text, best) for shape, text, best in shape_sentences(rows)}
    assert sentences["tasks"][1] == "dask"
    # kafka's 80k against ray's 76k is within the search's bracket: no star, so nobody's
    # win, and no pick for streams (a row's best by its figure alone is not a verdict)
    assert sentences["streams"][1] is None and "no clear pick" in sentences["streams"][0]
    assert headline(rows) == "On this machine: dask for tasks; no clear pick for streams."


def test_terminal_summary_fits_100_columns_and_marks_failures():
    out = io.StringIO()
    print_summary(
        _doc(), Console(file=out, width=200, force_terminal=True, color_system="standard")
    )
    text = out.getvalue()
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert max(len(line) for line in plain.splitlines()) <= 100
    assert "1.01s*" in plain  # the separated winner
    assert "\x1b[1;37;41mfailed" in text  # bold white on red
    assert "On this machine: dask for tasks; no clear pick for streams." in plain


def test_page_cells_carry_the_figures_and_classes(tmp_path):
    doc = _doc()
    page = build_report(doc, tmp_path).read_text()
    table = page[page.index('<table id="glance"') : page.index("</table>", page.index("glance"))]
    _engines, rows = glance(doc)
    for row in rows:
        for name, gc in row.cells.items():
            css = "n-a" if gc.css == "n/a" else gc.css
            pattern = f'<td class="g {css}[^"]*" data-engine="{name}"'
            assert re.search(pattern, table), (row.label, name, gc)
    assert table.count("★") == 2  # squares and the request/response loop


def test_a_fault_row_says_what_the_fault_did_to_busy_work():
    def faulted(engine, record, **cell):
        return {**_time_cell(engine, "jobs", [1.0, 1.1], "batch"), "fault": record, **cell}

    hit = {"kind": "worker", "killed_pid": 4321, "in_flight": True, "victim_observed": True,
           "tasks": 10}  # fmt: skip
    row = _row([
        faulted("celery", {**hit, "duplicated": 1}, duplicates=1, lost=0),
        faulted("dask", {**hit, "lost": 0}, lost=0),
        # no broker of ours: nothing was killed, so nothing can read as a clean "0"
        faulted("ray", {"kind": "broker", "error": "no broker of ours to kill",
                        "not_hit": "no broker of ours to kill"}),
        # the process pool lost the tasks its dead worker held: the run is wrong, and
        # how much it lost is the figure
        faulted("local", {**hit, "lost": 8}, status="failed", verified=False, lost=8,
                error="wrong answer: 8 results missing", verify_detail="8 results missing"),
    ])  # fmt: skip
    assert row.kind == "faults"
    assert row.cells["dask"].text == "0" and row.cells["dask"].css == "r1"
    assert row.cells["celery"].text == "1 dup" and row.cells["celery"].css == "r5"
    assert row.cells["ray"].text == "no fault" and row.cells["ray"].css == "n/a"
    assert "no broker of ours" in row.cells["ray"].note
    assert row.cells["local"].text == "lost 8 of 10" and row.cells["local"].css == "lost"
