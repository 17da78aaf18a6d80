"""The report's first screen (distlab.report.glance as HTML): the matrix of the figure that
matters per row, coloured by its distance from the row's best, one sentence per shape of
work under it; and, further down, where the run's time went per engine."""

from __future__ import annotations

import math

from distlab.report.figures import fmt_s
from distlab.report.glance import KINDS, RATIO_BOUNDS, GlanceRow, glance
from distlab.report.html_tables import e, short_line
from distlab.report.verdict import headline, shape_sentences
from distlab.results import EngineRecord

GLANCE_CSS = """
table.glance { font-size: 0.9rem; }
table.glance td { text-align: right; min-width: 5.5rem; font-variant-numeric: tabular-nums;
  padding: 0.2rem 0.5rem; }
table.glance th { padding: 0.2rem 0.5rem; }
table.glance th.row { white-space: nowrap; }
table.glance th.row span { display: block; font-weight: normal; font-size: 0.75rem; color: #555; }
td.g.r1 { background: #1a9850; color: #fff; } td.g.r2 { background: #91cf60; }
td.g.r3 { background: #d9ef8b; } td.g.r4 { background: #fee08b; }
td.g.r5 { background: #fc8d59; }
td.g.failed, td.g.unverified, td.g.lost { background: #d73027; color: #fff; font-weight: 600; }
td.g.n-a { background: #f4f4f4; color: #888; } td.g.none { background: #fff; }
td.g.winner { font-weight: 700; }
.legend span { display: inline-block; padding: 0 0.5rem; margin-right: 0.2rem; }
ul.shapes li { margin: 0.25rem 0; }
p.headline { font-size: 1.05rem; font-weight: 600; margin: 0.4rem 0; }
"""


def _css_class(css: str) -> str:
    return "n-a" if css == "n/a" else css


def _cell_html(row: GlanceRow, name: str) -> str:
    gc = row.cells[name]
    classes = ["g", _css_class(gc.css)] + (["winner"] if gc.winner else [])
    ratio = "" if gc.ratio is None else ("inf" if math.isinf(gc.ratio) else f"{gc.ratio:.4g}")
    value = "" if gc.value is None else f"{gc.value:.6g}"
    if gc.note:
        title = short_line(gc.note, 200)
    elif gc.ratio is not None and math.isfinite(gc.ratio) and gc.ratio > 1:
        title = f"{gc.ratio:.2f}x the best in this row"
    else:
        title = "the best in this row" if gc.ratio == 1.0 else ""
    star = "★ " if gc.winner else ""
    style = ""
    if gc.far_css:
        # the ratio's range spans two classes: stripes of the far end's colour over the
        # near end's (the colour the cell claims)
        far = _COLOURS[int(gc.far_css[1:])].split(";")[0]
        style = (
            f' style="background-image: repeating-linear-gradient(135deg, transparent 0 6px, '
            f'{far} 6px 9px)"'
        )
        lo, hi = gc.ratio_range or (gc.ratio, gc.ratio)
        title += f" (between {lo:.2f}x and {hi:.2f}x from the figures' ranges)"
    return (
        f'<td class="{" ".join(classes)}" data-engine="{e(name)}" data-value="{value}" '
        f'data-ratio="{ratio}" data-status="{e(gc.status)}" data-far="{e(gc.far_css)}" '
        f'title="{e(title)}"{style}>{star}{e(gc.text)}</td>'
    )


def _legend() -> str:
    bounds = (1.0, *RATIO_BOUNDS)
    spans = [
        f'<span class="g r{i + 1}" style="{_legend_style(i + 1)}">'
        + (f"≤ {bounds[i + 1]:g}x" if i < len(RATIO_BOUNDS) else f"&gt; {RATIO_BOUNDS[-1]:g}x")
        + "</span>"
        for i in range(len(RATIO_BOUNDS) + 1)
    ]
    return (
        '<p class="legend small">Figures: median time unless the row says otherwise '
        "(~: one run, or a spread over 10%; a rate is the bracket its search ended in). "
        "Colour: the figure relative to the best in its row "
        f"{''.join(spans)}, from the end of its range nearer the best; stripes: the range "
        "reaches the next colour · ★ the best, ahead of the runner-up at 95% confidence "
        "(none where the numbers do not say so) · "
        '<span style="background:#d73027;color:#fff">failed / wrong / work lost under a fault</span> · '
        '<span style="background:#f4f4f4;color:#888">n/a: not supported or not installed'
        "</span></p>"
    )


_COLOURS = {1: "#1a9850;color:#fff", 2: "#91cf60", 3: "#d9ef8b", 4: "#fee08b", 5: "#fc8d59"}


def _legend_style(i: int) -> str:
    return f"background:{_COLOURS[i]}"


def _figure_note(row: GlanceRow) -> str:
    """The figure's name under the row's label, unless it is the usual median time."""
    if row.kind == "time":
        return ""
    better = " (higher is better)" if row.higher_is_better else ""
    return f"<span>{e(KINDS[row.kind][0])}{better}</span>"


def glance_html(doc: dict) -> str:
    """The matrix (id "glance"), its legend, the headline and one sentence per shape."""
    engines, rows = glance(doc)
    if not rows:
        return "<p>No cells in this results file.</p>"
    head = "".join(f'<th scope="col">{e(name)}</th>' for name in engines)
    body = []
    for row in rows:
        tds = "".join(_cell_html(row, name) for name in engines)
        body.append(
            f'<tr data-work="{e(row.workload)}/{e(row.variant)}" data-kind="{e(row.kind)}">'
            f'<th class="row" scope="row">{e(row.label)}{_figure_note(row)}</th>{tds}</tr>'
        )
    sentences = "".join(f"<li>{e(text)}</li>" for _shape, text, _best in shape_sentences(rows))
    return (
        f'<p class="headline" id="headline">{e(headline(rows))}</p>'
        '<div class="scroll"><table id="glance" class="glance"><thead><tr><th>work</th>'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        f'{_legend()}<ul class="shapes" id="shapes">{sentences}</ul>'
    )


def time_spent_html(doc: dict) -> str:
    """Per engine: start-up, warm-up runs, measured runs, the rest of its cells
    (golden answers, verification), close, and the engine process's whole time."""
    timing = doc.timing.engines if doc.timing else {}
    engines = doc.engines
    rows = []
    for name in dict.fromkeys([*timing, *engines]):
        info = engines.get(name) or EngineRecord()
        cells = [c for c in doc.cells if c.engine == name]
        spent = [c.time_spent or {} for c in cells]
        warm = sum(s.get("warmup") or 0 for s in spent)
        measured = sum(s.get("measured") or 0 for s in spent)
        other = sum(s.get("other") or 0 for s in spent)
        whole = timing.get(name)
        parts = [info.startup_s, warm, measured, other, info.close_s]
        rest = None if whole is None else max(0.0, whole - sum(p or 0 for p in parts))
        tds = "".join(f'<td class="num">{e(fmt_s(x) if x else "-")}</td>' for x in [*parts, rest])
        rows.append(f"<tr><th>{e(name)}</th>{tds}<td class='num'>{e(fmt_s(whole))}</td></tr>")
    total = doc.timing.total_s if doc.timing else None
    return (f"<p>The whole run took {e(fmt_s(total))}.</p>" if total else "") + (
        '<table id="time-spent"><thead><tr><th>engine</th><th>start-up</th><th>warm-up runs</th>'
        "<th>measured runs</th><th>golden, checks</th><th>close</th><th>process, waits</th>"
        f"<th>total</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        '<p class="small">Measured runs are whole (a run\'s own harness included); '
        "the reference row is the single-process references.</p>"
    )
