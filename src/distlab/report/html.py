"""The static HTML report: one self-contained page built from a results file.

Offline by construction: inline CSS, no scripts, plots embedded as base64 PNG (the PNG
and SVG files are also written beside the page under plots/).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

from distlab import machine_speed, results
from distlab.report import recommend
from distlab.report.choose import attach_benches
from distlab.report.figures import fmt_s, fmt_x, label, work_label
from distlab.report.glance import work_keys
from distlab.report.history import since_last_run
from distlab.report.history_tables import since_html
from distlab.report.html_choose import choose_html
from distlab.report.html_glance import GLANCE_CSS, glance_html, time_spent_html
from distlab.report.html_tables import (
    details_table,
    e,
    extrapolation_note,
    faults_table,
    hosts_html,
    references_table,
    rtt_html,
    short_line,
    spread_text,
    status_class,
)
from distlab.report.timeline_tables import timeline_html
from distlab.report.worker_death import death_html

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
       margin: 0 auto; max-width: 1400px; padding: 1rem 2rem; color: #1d1d1f; }
h1 { margin: 0.4rem 0 0.2rem; font-size: 1.6rem; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2rem;
       margin-top: 2rem; }
.meta { color: #555; font-size: 0.9rem; }
.scroll { overflow-x: auto; }
table.matrix td { min-width: 9rem; }
nav a { margin-right: 1rem; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.88rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; vertical-align: top; text-align: left; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.ok { background: #eef8ee; } td.failed { background: #fbeaea; }
td.unsupported, td.unavailable { background: #f4f4f4; color: #777; }
td.unverified { background: #fff4d6; }
.status { font-weight: 600; } .small { font-size: 0.8rem; color: #555; }
.bad { color: #b00020; font-weight: 600; } .good { color: #1b7f1b; font-weight: 600; }
ul.findings li { margin: 0.35rem 0; }
li.winner::marker { content: "★ "; color: #1b7f1b; }
li.tie::marker, li.tentative::marker { content: "≈ "; color: #a06000; }
li.numpy::marker, li.no_gain::marker, li.failed::marker, li.unverified::marker { content: "! "; color: #b00020; }
figure { margin: 1rem 0 2rem; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85rem; color: #444; }
pre { background: #f7f7f7; padding: 0.5rem; white-space: pre-wrap; word-break: break-word;
      font-size: 0.8rem; margin: 0.2rem 0 0.8rem; }
"""


def _matrix_cell(c: dict, rowspan: int = 1) -> str:
    span = f' rowspan="{rowspan}"' if rowspan > 1 else ""
    status = c.status or "?"
    if status == "ok":
        mark = (
            '<span class="good">✓ verified</span>'
            if c.verified
            else '<span class="bad">✗ not verified</span>'
        )
        body = (
            f"{mark}<br>{e(spread_text(c))}"
            + (f"<br>speed-up {e(fmt_x(c.speedup))}" if c.speedup is not None else "")
            + extrapolation_note(c)
        )
    else:
        reason = c.error or c.reason or ""
        body = (
            f'<span class="status">{e(status)}</span><br>'
            f'<span class="small">{e(short_line(reason))}</span>'
        )
    return f'<td class="{e(status_class(c))}"{span}>{body}</td>'


def matrix(doc: dict) -> str:
    """Workload/variant as rows, engines as columns: status, verified, median [min-max], speed-up.

    Rows, not columns, for workloads: there are more workload variants than engines, and
    the page stays within a screen's width.
    """
    cells = doc.cells
    rows_keys = work_keys(cells)
    engines: list[str] = []
    for c in cells:
        if c.engine not in engines:
            engines.append(c.engine)
    head = "".join(f"<th>{e(name)}</th>" for name in engines)
    rows = []
    for w, v in rows_keys:
        variants = [vv for ww, vv in rows_keys if ww == w]
        first_of_workload = variants[0] == v
        tds = []
        for engine in engines:
            mine = [c for c in cells if c.engine == engine and c.workload == w]
            whole = [c for c in mine if (c.variant or "-") == "-"]
            specific = [c for c in mine if (c.variant or "-") != "-"]
            if whole and not specific and len(variants) > 1:
                # a cell that never reached its variants (failed start, unsupported) spans them
                if first_of_workload:
                    tds.append(_matrix_cell(whole[0], len(variants)))
                continue
            found = [c for c in mine if (c.variant or "-") == v]
            tds.append(_matrix_cell(found[0]) if found else '<td class="unsupported">-</td>')
        name = work_label(w, v)
        rows.append(f"<tr><th>{e(name)}</th>{''.join(tds)}</tr>")
    return (
        '<div class="scroll"><table id="matrix" class="matrix"><thead><tr><th>workload</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="small">median [min–max] of the measured repetitions; ! = unstable '
        "(relative stdev &gt; 10%); speed-up = sequential loop time / engine time.</p>"
    )


def findings_html(doc: dict) -> str:
    sections = recommend.findings(doc)
    titles = {
        "winners": "Fastest verified engine per workload",
        "shapes": "Per shape of work",
        "caveats": "Caveats from the numbers",
        "other": "Start-up, latency, throughput and memory",
    }
    parts = []
    for key, title in titles.items():
        items = sections.get(key) or []
        if not items:
            continue
        lis = "".join(f'<li class="{e(f.kind)}">{e(f.text)}</li>' for f in items)
        parts.append(f'<h3>{e(title)}</h3><ul class="findings" id="findings-{key}">{lis}</ul>')
    if not parts:
        return "<p>No verified measurements: nothing to recommend.</p>"
    return "".join(parts)


def plots_html(plots: list, note: str | None) -> str:
    if note:
        return f"<p>{e(note)}</p>"
    if not plots:
        return "<p>Nothing to plot.</p>"
    out = []
    for p in plots:
        out.append(
            f'<figure id="plot-{e(p.name)}"><img class="plot" alt="{e(p.title)}" '
            f'src="data:image/png;base64,{p.png_base64}">'
            f"<figcaption><b>{e(p.title)}.</b> {e(p.caption)} Files: "
            f'<a href="plots/{e(p.png.name)}">PNG</a>, <a href="plots/{e(p.svg.name)}">SVG</a>'
            "</figcaption></figure>"
        )
    return "".join(out)


def _plan_html(doc: dict) -> str:
    """The run's time budget and what it shortened or left out to fit (run/budget.py)."""
    if not doc.plan or not doc.plan.summary or not doc.plan.budget_s:
        return ""
    plan = doc.plan.summary
    took = doc.timing.total_s if doc.timing else None
    took_text = f"; the run took {fmt_s(took)}" if took else ""
    return f'<p class="meta" id="plan">{e(plan)}{e(took_text)}.</p>'


def environment_html(doc: dict) -> str:
    env = doc.environment
    rows = (
        "".join(
            f"<tr><th>{e(f.name)}</th><td>{e(getattr(env, f.name))}</td></tr>"
            for f in dataclasses.fields(env)
            if f.name not in ("libraries", "speed") and getattr(env, f.name) is not None
        )
        + f"<tr><th>speed</th><td>{e(machine_speed.text(doc.environment.speed))}</td></tr>"
    )
    libs = "".join(
        f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in env.libraries.items()
    )
    settings = "".join(
        f"<tr><th>{e(k)}</th><td>{e(json.dumps(v) if isinstance(v, dict | list) else v)}</td></tr>"
        for k, v in dataclasses.asdict(doc.settings).items()
    )
    engines = []
    for name, info in doc.engines.items():
        describe = ", ".join(f"{k}={v}" for k, v in (info.describe or {}).items())
        engines.append(
            f"<tr><td>{e(name)}</td><td>{e(info.status or '-')}</td>"
            f"<td class='num'>{e(fmt_s(info.startup_s))}</td>"
            f"<td class='num'>{e(fmt_s(info.close_s))}</td>"
            f"<td class='num'>{e(_or_dash(info.idle_mem_mb))}</td><td>{e(describe)}</td></tr>"
        )
    return (
        f'<table id="environment">{rows}</table>'
        f'<h3>Library versions</h3><table id="libraries">{libs}</table>'
        f'<h3>Run settings</h3><table id="settings">{settings}</table>'
        '<h3>Engine settings</h3><table id="engines"><thead><tr><th>engine</th><th>status</th>'
        "<th>start-up</th><th>close</th><th>idle MB</th><th>settings</th></tr></thead>"
        f"<tbody>{''.join(engines)}</tbody></table>"
    )


def errors_html(doc: dict) -> str:
    items = []
    for name, info in doc.engines.items():
        if info.error:
            items.append(
                f"<h4>engine {e(name)} ({e(info.status)})</h4><pre>{e(info.error)}</pre>"
            )
    for c in doc.cells:
        message = c.error or (c.reason if c.status != "ok" else None)
        if c.status == "ok" and not c.verified:
            message = c.verify_detail or "answer did not verify"
        if message:
            items.append(
                f"<h4>{e(c.engine)} / {e(label(c))}: {e(c.status)}</h4>"
                f"<pre>{e(message)}</pre>"
            )
    return "".join(items) or "<p>No errors: every cell ran.</p>"


def _or_dash(value, dash: str = "-"):
    return dash if value is None else value


def render(
    doc: dict, plots: list, plot_note: str | None = None, source: str = "", since: str = ""
) -> str:
    """The page; ``since``: the "Since the last run on this machine" section, if any."""
    created = doc.created or ""
    command = " ".join(str(x) for x in doc.command)
    settings = doc.settings
    summary = (
        f"size {settings.size or '?'}, {_or_dash(settings.repeats, '?')} repetitions "
        f"after {_or_dash(settings.warmup, '?')} warm-up, workers "
        f"{settings.workers or 'CPU count'}"
    )
    interrupted = doc.interrupted
    partial = (
        '<p class="bad">Interrupted (Ctrl-C): only the cells that finished are here '
        f"({e(interrupted.cells_finished)}); running then: "
        f"{e(', '.join(interrupted.during) or '-')}.</p>"
        if interrupted
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>distlab report {e(created)}</title>
<style>{CSS}{GLANCE_CSS}</style></head>
<body>
<h1>Which engine for which work</h1>
<p class="meta">distlab, {e(created)} on {e(doc.environment.host)} ({e(machine_speed.text(doc.environment.speed))}) · {e(summary)}
· <a href="#plots">plots</a> · <a href="#time-section">time</a> · <a href="#details">every cell</a>
· <a href="#environment-section">environment</a></p>
{partial}{_plan_html(doc)}<section id="glance-section">{glance_html(doc)}</section>
{since}
{choose_html(doc)}
{hosts_html(doc)}
{rtt_html(doc)}
{death_html(doc.cells)}
<section id="plots"><h2>Plots</h2>{plots_html(plots, plot_note)}</section>
{timeline_html(doc)}
<section id="time-section"><h2>Where the run's time went</h2>{time_spent_html(doc)}</section>
<details id="details"><summary><h2 style="display:inline">Every cell, findings and
references</h2></summary>
<section id="matrix-section"><h3>Engine × workload matrix</h3>{matrix(doc)}
<h3>Every cell</h3>{details_table(doc)}
{faults_table(doc)}
<h3>Single-process references</h3>{references_table(doc)}</section>
<section id="recommendations"><h3>Findings</h3>
<p class="small">Derived from the measured numbers; a winner is named only when its
repetitions separate from the runner-up's.</p>
{findings_html(doc)}</section></details>
<details id="environment-section"><summary><h2 style="display:inline">Environment</h2>
</summary>{environment_html(doc)}</details>
<details id="errors"><summary><h2 style="display:inline">Errors</h2></summary>
{errors_html(doc)}</details>
<p class="small">command: <code>{e(command)}</code>{f"<br>results: <code>{e(source)}</code>" if source else ""}</p>
</body></html>
"""


def build_report(
    results_path_or_doc: str | Path | results.Results,
    out_dir: str | Path | None = None,
    history: Path | None = None,
) -> Path:
    """Write out_dir/report.html and out_dir/plots/*.png|svg; return the page's path.

    out_dir defaults to the directory holding the results file. ``history``: the history
    file whose earlier run on this machine the page compares with (None: no such section).
    """
    if isinstance(results_path_or_doc, results.Results):
        doc, source = results_path_or_doc, ""
        if out_dir is None:
            raise ValueError("out_dir is required when building from a document")
    else:
        doc = results.load(results_path_or_doc)
        p = Path(results_path_or_doc)
        source = str(p / "results.json" if p.is_dir() else p)
        if out_dir is None:
            out_dir = p if p.is_dir() else p.parent
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = attach_benches(doc, out)  # `distlab bench ... --out DIR` files beside the results
    plot_note = None
    # matplotlib is an optional extra: its absence is a note on the page, while any other
    # ImportError (a bug in the plots) fails loudly instead of hiding the plots
    if importlib.util.find_spec("matplotlib") is None:
        made, plot_note = [], "Plots need matplotlib: pip install 'distlab[report]'."
    else:
        from distlab.report.plots import render_all

        made = render_all(doc, out / "plots")
    since = since_html(since_last_run(doc, source, history)) if history else ""
    page = out / "report.html"
    page.write_text(render(doc, made, plot_note, source, since), encoding="utf-8")
    return page
