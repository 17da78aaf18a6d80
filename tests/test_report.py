"""The report and compare commands on real runs of the process-pool engine."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from commands import distlab
from distlab import results
from distlab.report import compare as cmp
from distlab.report import figures, recommend
from distlab.report.html import build_report
from distlab.run import matrix as runner
from docs import document


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    res = distlab(
        "run", "--engines", "local", "--workloads", "squares,numbers", "--size", "tiny",
        "--out", str(out),
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    return out


@pytest.fixture(scope="module")
def report_page(run_dir, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("report")
    res = distlab("report", str(run_dir), "--out", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"report: {out / 'report.html'}" in res.stdout
    page = out / "report.html"
    return page, page.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def slowed_pair(tmp_path_factory) -> tuple[Path, Path]:
    """Two real runs of squares; in B every task sleeps twice as long (a planted regression).

    Five repetitions each: with three, no Mann-Whitney p can go below 0.05.
    """
    base = tmp_path_factory.mktemp("compare")
    spec = dict(engines=["local"], workloads=["squares"], size="tiny", repeats=5, warmup=1)
    runner.run(runner.RunSpec(**spec), base / "a")
    runner.run(runner.RunSpec(**spec, params={"squares": {"sleep_s": 0.1}}), base / "b")
    return base / "a", base / "b"


# ---- the page ---------------------------------------------------------------------------


def test_page_has_the_matrix_with_every_cell(run_dir, report_page):
    _, page = report_page
    doc = results.load(run_dir)
    matrix = page[
        page.index('<table id="matrix"') : page.index("</table>", page.index('id="matrix"'))
    ]
    for cell in doc.cells:
        assert cell.status == "ok" and cell.verified
        # the median as the page prints it, with its min-max spread
        assert figures.fmt_s(cell.wall["median"]) in matrix
        assert (
            f"[{figures.fmt_s(cell.wall['min'])}–{figures.fmt_s(cell.wall['max'])}]" in matrix
        )
        assert figures.fmt_x(cell.speedup) in matrix
    assert matrix.count("✓ verified") == len(doc.cells)
    for row in ("squares", "numbers (batched)", "numbers (per_element)"):
        assert f"<tr><th>{row}</th>" in matrix
    assert "<th>local</th>" in matrix


def test_page_embeds_every_plot_and_writes_the_files(report_page):
    path, page = report_page
    plots_dir = path.parent / "plots"
    pngs = sorted(p.stem for p in plots_dir.glob("*.png"))
    svgs = sorted(p.stem for p in plots_dir.glob("*.svg"))
    # this run has per-element and batched cells, breakdowns, memory and start-up
    assert {"overhead", "breakdown", "memory", "startup"} <= set(pngs)
    # the glance matrix answers what the speed-up and time-per-cell charts did
    assert "speedup" not in pngs and "time" not in pngs
    assert pngs == svgs
    # no latency or timeline metrics in these workloads: those plots are skipped, not empty
    assert "latency" not in pngs and "timeline" not in pngs
    embedded = re.findall(
        r'<img class="plot" alt="[^"]*" src="data:image/png;base64,([^"]+)"', page
    )
    assert len(embedded) == len(pngs)
    for data in embedded:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    for name in pngs:
        assert f'id="plot-{name}"' in page
        assert f'href="plots/{name}.svg"' in page


def test_page_is_offline(report_page):
    _, page = report_page
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page
    assert "@import" not in page and "url(" not in page


def test_recommendations_are_derived_from_the_numbers(run_dir, report_page):
    _, page = report_page
    doc = results.load(run_dir)
    start = page.index('id="recommendations"')
    section = page[start : page.index("</section>", start)]
    numpy = doc.references["numbers"].runs["numpy"].wall["median"]
    numbers_cells = [c for c in doc.cells if c.workload == "numbers"]
    fastest = min(figures.full_median(c) for c in numbers_cells)
    # the NumPy caveat appears exactly when the numbers say so
    assert ("vectorized NumPy on one core" in section) == (numpy < fastest)
    slower = [c for c in doc.cells if c.speedup < 1]
    assert ("distribution did not pay" in section) == bool(slower)
    for c in slower:
        assert figures.fmt_x(c.speedup) in section
    # one engine only: nothing is crowned; every workload says so
    for label in ("squares", "numbers (batched)", "numbers (per_element)"):
        assert f"{label}: only local has a verified time" in section
    # one task per element against batches, with the measured factor
    assert "one task per element would take" in section
    # repetitions adapt per cell: the page warns exactly when even the best-sampled cell
    # has too few repetitions for any difference to be significant
    most = max(len(figures.wall_samples(c)) for c in figures.measured(doc))
    underpowered = recommend.min_possible_p(most, most) > 0.05
    assert ("no difference can be statistically significant" in section) == underpowered


def test_winner_tie_and_tentative_verdicts_on_real_samples(slowed_pair):
    a, b = (results.load(p) for p in slowed_pair)
    fast = next(c for c in a.cells if c.workload == "squares")
    slow = next(c for c in b.cells if c.workload == "squares")
    verdict, p = recommend.separate(fast, slow)
    assert verdict == "clear" and p < 0.05
    assert recommend.separate(fast, fast)[0] == "tie"  # identical samples overlap
    # the same two cells with only three repetitions each: separated, but not significant
    three = [
        replace(c, wall={**c.wall, "samples": c.wall["samples"][:3]}) for c in (fast, slow)
    ]
    for c in three:
        c.wall["min"], c.wall["max"] = min(c.wall["samples"]), max(c.wall["samples"])
    verdict, p = recommend.separate(*three)
    assert verdict == "tentative" and p > 0.05


def test_report_survives_missing_and_unusual_keys(tmp_path):
    """The renderer skips what is absent and draws what is present; it never crashes."""
    engines = {
        "local": {"status": "ok"},
        "broken": {"status": "failed", "error": "no route"},
    }
    cells = [
        {"engine": "local", "workload": "squares", "status": "ok", "verified": True},
        {"engine": "broken", "workload": "squares", "variant": "-", "status": "failed",
         "error": "EngineStartError: cannot reach 127.0.0.1:1 <&>"},
        {"engine": "local", "workload": "wf", "variant": "-", "status": "ok", "verified": True,
         "wall_s": 1.0, "wall": {"n": 1, "median": 1.0, "min": 1.0, "max": 1.0, "samples": [1.0]},
         "metrics": {
             "timeline": [
                 {"step": "capture", "start": 10.0, "end": 11.0, "state": "done", "worker": "camera"},
                 {"step": "stack", "start": 10.5, "end": 12.0, "state": "retry", "worker": "stacking"},
                 {"step": "bad"},
             ],
             "latency_ms": {"p50": 1.0, "p99": 5.0, "p99.9": 9.0},
             "sweep": [{"batch_size": 10, "wall_s": 0.5}],
         }},
    ]  # fmt: skip
    doc = document(cells, settings={"size": "tiny", "repeats": 1}, engines=engines)
    page = build_report(doc, tmp_path).read_text()
    assert "EngineStartError: cannot reach 127.0.0.1:1 &lt;&amp;&gt;" in page  # escaped
    assert "no route" in page
    plots = {p.stem for p in (tmp_path / "plots").glob("*.png")}
    assert {"timeline", "latency"} <= plots
    assert 'id="glance"' in page  # the first screen, with what there is


# ---- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["report", "compare"])
def test_missing_or_garbage_results_is_one_line_exit_2(command, tmp_path):
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    for target, needle in (
        (tmp_path / "nothing", "no results file"),
        (garbage, "not a results file"),
    ):
        args = [command, str(target)] + ([str(target)] if command == "compare" else [])
        res = distlab(*args)
        assert res.returncode == 2, res.stdout + res.stderr
        assert needle in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
        assert "Traceback" not in res.stderr


# ---- compare ----------------------------------------------------------------------------


def test_compare_flags_exactly_the_slowed_cell(slowed_pair):
    a, b = slowed_pair
    result = cmp.compare(a, b)
    assert [(r.engine, r.workload, r.variant) for r in result.regressions] == [
        ("local", "squares", "default")
    ]
    row = result.regressions[0]
    # every task sleeps twice as long: the run takes clearly longer, at most about twice
    assert 1.3 < row.ratio < 2.6 and row.p < 0.05
    assert result.geomean == pytest.approx(row.ratio)
    assert any("Different setting params" in n for n in result.notes)

    res = distlab("compare", str(a), str(b))
    assert res.returncode == 0, res.stdout + res.stderr
    line = next(x for x in res.stdout.splitlines() if "squares" in x)
    assert "REGRESSION" in line and f"{row.ratio:.3f}" in line
    assert f"geometric mean of B/A over 1 cells: {row.ratio:.3f}" in res.stdout
    assert "1 regression(s): local/squares/default" in res.stdout


def test_compare_the_other_way_is_an_improvement(slowed_pair):
    a, b = slowed_pair
    result = cmp.compare(b, a)
    assert result.regressions == []
    assert [r.verdict for r in result.rows] == ["improvement"]


def test_compare_a_file_with_itself_finds_nothing(slowed_pair, tmp_path):
    a, _ = slowed_pair
    html = tmp_path / "same.html"
    res = distlab("compare", str(a), str(a), "--fail-on-regression", "--html", str(html))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 regression(s)" in res.stdout and "1.000" in res.stdout
    assert "regression" not in html.read_text().split('<table id="comparison"')[1].lower()


def test_fail_on_regression_and_html_page(slowed_pair, tmp_path):
    a, b = slowed_pair
    html = tmp_path / "cmp" / "compare.html"
    res = distlab("compare", str(a), str(b), "--fail-on-regression", "--html", str(html))
    assert res.returncode == 1, res.stdout + res.stderr
    page = html.read_text()
    ratio = cmp.compare(a, b).regressions[0].ratio
    assert '<tr class="bad">' in page and f"{ratio:.3f}" in page and ">regression<" in page
    assert "http://" not in page and "https://" not in page


def test_compare_marks_cells_present_on_one_side(run_dir, slowed_pair):
    a, _ = slowed_pair
    result = cmp.compare(run_dir, a)
    verdicts = {(r.workload, r.variant): r.verdict for r in result.rows}
    assert verdicts[("numbers", "batched")] == "only A"
    assert verdicts[("numbers", "per_element")] == "only A"
    assert verdicts[("squares", "default")] in ("same", "noise", "regression", "improvement")
    json.dumps([r.__dict__ for r in result.rows])  # plain data, ready for other views
