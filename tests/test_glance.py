"""The report at a glance (distlab.report.glance): the figure per row, its distance from
the row's best, winners only where the spread separates them, and the terminal summary
that fits 100 columns. Documents built here: the rules are checked exactly."""

from __future__ import annotations

import io
import math
import re

from rich.console import Console

from distlab import results
from distlab.report.glance import glance, headline, ratio_class, shape_sentences
from distlab.report.html import build_report
from distlab.report.terminal import print_summary


def _time_cell(engine: str, workload: str, samples: list[float], variant: str = "-") -> dict:
    return {
        "engine": engine, "workload": workload, "variant": variant, "status": "ok",
        "verified": True, "wall_s": sorted(samples)[len(samples) // 2],
        "wall": {"n": len(samples), "median": sorted(samples)[len(samples) // 2],
                 "min": min(samples), "max": max(samples), "samples": samples},
        "metrics": {"work_fraction": 1.0},
    }  # fmt: skip


def _doc() -> dict:
    doc = results.new(["distlab", "run"], {"size": "default"})
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
    doc["cells"] = [
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
    return doc


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


def test_ratio_classes_and_sentences():
    assert [ratio_class(x) for x in (1.0, 1.2, 2.0, 5.0, 11.0, None)] == [
        "r1", "r2", "r3", "r4", "r5", "none",
    ]  # fmt: skip
    _engines, rows = glance(_doc())
    sentences = {shape: (text, best) for shape, text, best in shape_sentences(rows)}
    assert sentences["tasks"][1] == "dask"
    assert sentences["streams"][1] == "kafka"
    assert headline(rows) == "On this machine: dask for tasks; kafka for streams."


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
    assert "On this machine: dask for tasks; kafka for streams." in plain


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
