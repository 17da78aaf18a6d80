"""Compare two results files cell by cell: ratio of medians, significance, regressions.

For every (engine, workload, variant) measured in both files: the ratio B/A of the median
times (capped runs scaled to the full workload so a changed cap does not read as a
change), a two-sided Mann-Whitney test over the repetitions, and a verdict. A cell is a
regression when B is slower by more than the threshold AND the test says the difference
is beyond noise (see below); an improvement is the mirror image. A cell that ran in A and failed in
B is a regression too. The geometric mean of the ratios summarises the whole file.
Significance is judged over the whole file: two runs compare some 80 cells, and at p <
0.05 each about 4 would differ by chance alone, so a cell is called only where its
Benjamini-Hochberg q-value (the false discovery rate at which it would be called) is 0.05
or less.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table

from distlab import machine_speed, results
from distlab.report.figures import (
    Headline,
    fmt_s,
    full_median,
    headline,
    is_race,
    wall_samples,
)
from distlab.results import Results
from distlab.stats import mann_whitney_p, min_possible_p

THRESHOLD = 0.10
ALPHA = 0.05


@dataclass
class Row:
    engine: str
    workload: str
    variant: str
    a_s: float | None = None
    b_s: float | None = None
    ratio: float | None = None
    p: float | None = None
    n: tuple[int, int] = (0, 0)
    verdict: str = "same"  # regression, improvement, same, noise, broken, fixed, only A, only B
    note: str = ""


@dataclass
class Comparison:
    a_path: str
    b_path: str
    rows: list[Row] = field(default_factory=list)
    geomean: float | None = None
    threshold: float = THRESHOLD
    alpha: float = ALPHA
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.verdict in ("regression", "broken")]


def _key(cell: dict) -> tuple[str, str, str]:
    return (cell.engine, cell.workload, cell.variant or "-")


def _usable(cell: dict | None) -> bool:
    return bool(cell and cell.status == "ok" and cell.verified and full_median(cell))


def compare(
    a: str | Path | Results, b: str | Path | Results, threshold: float = THRESHOLD, alpha: float = ALPHA
) -> Comparison:
    doc_a = a if isinstance(a, Results) else results.load(a)
    doc_b = b if isinstance(b, Results) else results.load(b)
    out = Comparison(
        "" if isinstance(a, Results) else str(a),
        "" if isinstance(b, Results) else str(b),
        threshold=threshold,
        alpha=alpha,
    )
    cells_a = {_key(c): c for c in doc_a.cells}
    cells_b = {_key(c): c for c in doc_b.cells}
    ratios = []
    underpowered = False
    for key in list(dict.fromkeys([*cells_a, *cells_b])):
        ca, cb = cells_a.get(key), cells_b.get(key)
        row = Row(*key)
        if ca is None or cb is None:
            row.verdict = "only A" if cb is None else "only B"
            out.rows.append(row)
            continue
        if _usable(ca) and not _usable(cb):
            row.verdict = "broken"
            row.a_s = full_median(ca)
            row.note = _why(cb)
            out.rows.append(row)
            continue
        if not _usable(ca):
            row.verdict = "fixed" if _usable(cb) else "not run"
            row.b_s = full_median(cb) if _usable(cb) else None
            row.note = _why(ca) if not _usable(cb) else ""
            out.rows.append(row)
            continue
        ha, hb = headline(ca), headline(cb)
        if ha["name"] != "median time (s)":
            _compare_figure(row, ha, hb, threshold)
            out.rows.append(row)
            continue
        sa, sb = wall_samples(ca), wall_samples(cb)
        row.a_s, row.b_s = full_median(ca), full_median(cb)
        row.ratio = row.b_s / row.a_s
        if not (is_race(ca) and is_race(cb)):
            # a cached re-run, a paced loop: its time is reported, never ranked
            row.note = "ranks nothing (a cached re-run or a paced loop)"
            out.rows.append(row)
            continue
        row.p = mann_whitney_p(sa, sb)
        row.n = (len(sa), len(sb))
        underpowered |= min_possible_p(*row.n) > alpha
        ratios.append(row.ratio)
        out.rows.append(row)
    judge(out, threshold, alpha)
    if ratios:
        out.geomean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    if underpowered:
        out.notes.append(
            f"Some cells have too few repetitions for any difference to reach p<{alpha}: "
            "run with --repeats 4 or more."
        )
    speed = machine_speed.difference(doc_a.environment.speed, doc_b.environment.speed)
    if speed:
        out.notes.append(speed)
    env_a, env_b = doc_a.environment, doc_b.environment
    for field_name in ("host", "python", "cpus", "memory_gb"):
        value_a, value_b = getattr(env_a, field_name), getattr(env_b, field_name)
        if value_a != value_b:
            out.notes.append(f"Different {field_name}: {value_a} vs {value_b}.")
    libs_a, libs_b = env_a.libraries, env_b.libraries
    changed = [
        f"{k} {libs_a.get(k)} -> {libs_b.get(k)}"
        for k in sorted(set(libs_a) | set(libs_b))
        if libs_a.get(k) != libs_b.get(k)
    ]
    if changed:
        out.notes.append("Library versions changed: " + ", ".join(changed) + ".")
    for k in ("size", "workers", "params"):
        value_a, value_b = getattr(doc_a.settings, k), getattr(doc_b.settings, k)
        if value_a != value_b:
            out.notes.append(f"Different setting {k}: {value_a} vs {value_b}.")
    return out


def false_discovery_q(ps: list[float]) -> list[float]:
    """Benjamini-Hochberg q-values of ``ps`` (in their order): the false discovery rate at
    which each would be called. A run compares some 80 cells: at p < 0.05 each, about 4
    would differ by chance alone between two runs of the same code."""
    m = len(ps)
    order = sorted(range(m), key=ps.__getitem__)
    q = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, ps[i] * m / rank)
        q[i] = min(1.0, running)
    return q


def judge(out: Comparison, threshold: float, alpha: float) -> None:
    """Each tested time row's verdict: beyond the threshold and significant once the whole
    file's comparisons are accounted for (a false discovery rate of ``alpha``)."""
    tested = [r for r in out.rows if r.p is not None]
    for row, q in zip(tested, false_discovery_q([r.p for r in tested]), strict=True):
        beyond = abs(math.log(row.ratio)) > math.log(1 + threshold)
        if beyond and q <= alpha:
            row.verdict = "regression" if row.ratio > 1 else "improvement"
            row.note = f"q={q:.3f} over {len(tested)} comparisons"
        elif beyond:
            row.verdict = "noise"
            row.note = f"beyond {threshold:.0%}, p={row.p:.2f}, q={q:.2f} over {len(tested)}"
            if min_possible_p(*row.n) > alpha:
                row.note += f" (n={row.n[0]}/{row.n[1]} cannot reach p<{alpha})"


def _compare_figure(row: Row, ha: Headline, hb: Headline, threshold: float) -> None:
    """A cell ranked by another figure than time (a stream's sustained rate or p99), in
    that figure's direction: the ratio is how many times worse B is than A."""
    a, b = ha["value"], hb["value"]
    row.a_s, row.b_s = a, b
    row.note = ha["name"]
    if not a or not b:
        row.verdict = "same" if a == b else ("broken" if a else "fixed")
        row.note += ": nothing sustained" if not (a and b) else ""
        return
    row.ratio = a / b if ha["higher_is_better"] else b / a
    # one figure per run: no repetitions to test, so a change is at most "noise"
    if abs(math.log(row.ratio)) > math.log(1 + threshold):
        row.verdict = "noise"
        row.note += f" ({'worse' if row.ratio > 1 else 'better'} in B; one run each, untested)"


def _figure(row: Row, value: float | None) -> str:
    """A time in seconds, or a stream's figure in its own unit (ms, events/s)."""
    if value is None or not row.note.startswith(("p99", "highest")):
        return fmt_s(value)
    return f"{value:,.1f} ms" if row.note.startswith("p99") else f"{value:,.0f}/s"


def _why(cell: dict) -> str:
    if cell.status == "ok" and not cell.verified:
        return "answer did not verify"
    return str(cell.error or cell.reason or cell.status or "")[:120]


STYLE = {
    "regression": "bold red",
    "broken": "bold red",
    "improvement": "bold green",
    "fixed": "green",
    "noise": "yellow",
}


def _ratio(r: Row) -> str:
    return "-" if r.ratio is None else f"{r.ratio:.3f}"


def table(cmp: Comparison) -> Table:
    t = Table(
        title=f"B / A per cell (A = {cmp.a_path or 'A'}, B = {cmp.b_path or 'B'}); "
        f"regression = slower by > {cmp.threshold:.0%} with a false discovery rate q <= {cmp.alpha} "
        "over the file's comparisons"
    )
    for col in (
        "engine",
        "workload",
        "variant",
        "A median",
        "B median",
        "B/A",
        "p",
        "n",
        "verdict",
        "note",
    ):
        t.add_column(col, overflow="fold")
    for r in cmp.rows:
        style = STYLE.get(r.verdict, "")
        verdict = r.verdict.upper() if r.verdict in ("regression", "broken") else r.verdict
        t.add_row(
            r.engine,
            r.workload,
            r.variant,
            _figure(r, r.a_s),
            _figure(r, r.b_s),
            _ratio(r),
            "-" if r.p is None else f"{r.p:.3f}",
            f"{r.n[0]}/{r.n[1]}" if r.ratio is not None else "-",
            f"[{style}]{verdict}[/]" if style else verdict,
            r.note,
        )
    return t


def summary_lines(cmp: Comparison) -> list[str]:
    lines = []
    if cmp.geomean is not None:
        lines.append(
            f"geometric mean of B/A over {sum(r.ratio is not None for r in cmp.rows)} cells: "
            f"{cmp.geomean:.3f}"
        )
    regs = cmp.regressions
    lines.append(
        f"{len(regs)} regression(s)"
        + (": " + ", ".join(f"{r.engine}/{r.workload}/{r.variant}" for r in regs) if regs else "")
        + f"; {sum(r.verdict == 'improvement' for r in cmp.rows)} improvement(s)"
    )
    return lines + cmp.notes


def print_comparison(cmp: Comparison, console) -> None:
    console.print(table(cmp))
    for line in summary_lines(cmp):
        console.print(line, markup=False, highlight=False)


def write_html(cmp: Comparison, path: str | Path) -> Path:
    e = html.escape
    rows = []
    for r in cmp.rows:
        cls = {"regression": "bad", "broken": "bad", "improvement": "good", "fixed": "good"}.get(
            r.verdict, ""
        )
        rows.append(
            f'<tr class="{cls}"><td>{e(r.engine)}</td><td>{e(r.workload)}</td><td>{e(r.variant)}</td>'
            f'<td class="num">{e(_figure(r, r.a_s))}</td><td class="num">{e(_figure(r, r.b_s))}</td>'
            f'<td class="num">{e(_ratio(r))}</td>'
            f'<td class="num">{"-" if r.p is None else f"{r.p:.3f}"}</td>'
            f"<td>{e(r.verdict)}</td><td>{e(r.note)}</td></tr>"
        )
    summary = "".join(f"<li>{e(line)}</li>" for line in summary_lines(cmp))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>distlab compare</title>
<style>
body {{ font-family: system-ui, "DejaVu Sans", sans-serif; margin: 1rem 2rem; }}
table {{ border-collapse: collapse; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.3rem 0.5rem; text-align: left; }}
th {{ background: #f2f2f2; }} td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr.bad td {{ background: #fbeaea; color: #900; font-weight: 600; }}
tr.good td {{ background: #eef8ee; }}
</style></head><body>
<h1>distlab compare</h1>
<p>A: <code>{e(cmp.a_path)}</code><br>B: <code>{e(cmp.b_path)}</code><br>
Regression: B slower than A by more than {cmp.threshold:.0%} with Mann-Whitney p &lt; {cmp.alpha}
over the repetitions.</p>
<ul id="summary">{summary}</ul>
<table id="comparison"><thead><tr><th>engine</th><th>workload</th><th>variant</th>
<th>A median</th><th>B median</th><th>B/A</th><th>p</th><th>verdict</th><th>note</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
</body></html>
"""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
