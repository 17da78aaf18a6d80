"""The static HTML report: one self-contained page built from a results file.

Offline by construction: inline CSS, no scripts, plots embedded as base64 PNG (the PNG
and SVG files are also written beside the page under plots/).
"""

from __future__ import annotations

import html
import importlib.util
import json
from pathlib import Path
from typing import Any

from distlab import results
from distlab.report import figures, recommend
from distlab.report.figures import fmt_s, fmt_x, label

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
       margin: 0 auto; max-width: 1400px; padding: 1rem 2rem; color: #1d1d1f; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2rem;
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


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _spread(cell: dict) -> str:
    wall = cell.get("wall") or {}
    if not wall.get("n") and cell.get("wall_s") is None:
        return "-"
    med = wall.get("median", cell.get("wall_s"))
    text = fmt_s(med)
    if wall.get("min") is not None and wall.get("max") is not None:
        text += f" [{fmt_s(wall['min'])}–{fmt_s(wall['max'])}]"
    return text + (" !" if wall.get("unstable") else "")


def _status_class(cell: dict) -> str:
    status = cell.get("status") or "unknown"
    if status == "ok" and not cell.get("verified"):
        return "unverified"
    return status


def _columns(cells: list[dict]) -> list[tuple[str, str]]:
    """Workload/variant columns; a workload's '-' column only when it has no variants."""
    columns: list[tuple[str, str]] = []
    for c in cells:
        key = (c.get("workload"), c.get("variant") or "-")
        if key not in columns:
            columns.append(key)
    with_variants = {w for w, v in columns if v != "-"}
    kept = [(w, v) for w, v in columns if v != "-" or w not in with_variants]
    return sorted(kept, key=lambda k: [w for w, _ in kept].index(k[0]))


def _matrix_cell(c: dict, rowspan: int = 1) -> str:
    span = f' rowspan="{rowspan}"' if rowspan > 1 else ""
    status = c.get("status") or "?"
    if status == "ok":
        mark = (
            '<span class="good">✓ verified</span>'
            if c.get("verified")
            else '<span class="bad">✗ not verified</span>'
        )
        body = (
            f"{mark}<br>{e(_spread(c))}"
            + (f"<br>speed-up {e(fmt_x(c['speedup']))}" if c.get("speedup") is not None else "")
            + _extrapolation(c)
        )
    else:
        reason = c.get("error") or c.get("reason") or ""
        body = (
            f'<span class="status">{e(status)}</span><br>'
            f'<span class="small">{e(_short(reason))}</span>'
        )
    return f'<td class="{e(_status_class(c))}"{span}>{body}</td>'


def matrix(doc: dict) -> str:
    """Workload/variant as rows, engines as columns: status, verified, median [min-max], speed-up.

    Rows, not columns, for workloads: there are more workload variants than engines, and
    the page stays within a screen's width.
    """
    cells = doc.get("cells") or []
    rows_keys = _columns(cells)
    engines: list[str] = []
    for c in cells:
        if c.get("engine") not in engines:
            engines.append(c.get("engine"))
    head = "".join(f"<th>{e(name)}</th>" for name in engines)
    rows = []
    for w, v in rows_keys:
        variants = [vv for ww, vv in rows_keys if ww == w]
        first_of_workload = variants[0] == v
        tds = []
        for engine in engines:
            mine = [c for c in cells if c.get("engine") == engine and c.get("workload") == w]
            whole = [c for c in mine if (c.get("variant") or "-") == "-"]
            specific = [c for c in mine if (c.get("variant") or "-") != "-"]
            if whole and not specific and len(variants) > 1:
                # a cell that never reached its variants (failed start, unsupported) spans them
                if first_of_workload:
                    tds.append(_matrix_cell(whole[0], len(variants)))
                continue
            found = [c for c in mine if (c.get("variant") or "-") == v]
            tds.append(_matrix_cell(found[0]) if found else '<td class="unsupported">-</td>')
        name = label({"workload": w, "variant": v})
        rows.append(f"<tr><th>{e(name)}</th>{''.join(tds)}</tr>")
    return (
        '<div class="scroll"><table id="matrix" class="matrix"><thead><tr><th>workload</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="small">median [min–max] of the measured repetitions; ! = unstable '
        "(relative stdev &gt; 10%); speed-up = sequential loop time / engine time.</p>"
    )


def _extrapolation(cell: dict) -> str:
    """A capped run's full-size estimate, or a batched run's batch size."""
    full = figures.extrapolated_full_s(cell)
    if figures.is_capped(cell) and full is not None:
        return (
            f'<br><span class="small">{e(figures.elements(cell))} elements; full size '
            f"~{e(fmt_s(full))}</span>"
        )
    if size := figures.batch_size(cell):
        return f'<br><span class="small">batch {e(size)}</span>'
    return ""


def _short(text: str, limit: int = 90) -> str:
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def details_table(doc: dict) -> str:
    cols = (
        "engine",
        "workload",
        "variant",
        "status",
        "verified",
        "time",
        "speed-up",
        "vs NumPy",
        "overhead/task",
        "tasks",
        "peak MB",
        "lost/dup",
    )
    rows = []
    for c in doc.get("cells") or []:
        overhead = c.get("per_task_overhead_ms")
        cells = [
            e(c.get("engine")),
            e(c.get("workload")),
            e(c.get("variant", "-")),
            e(c.get("status")),
            "yes" if c.get("verified") else "no" if c.get("status") == "ok" else "-",
            e(_spread(c)),
            e(fmt_x(c.get("speedup"))),
            e(fmt_x(c.get("speedup_vs_numpy"))),
            "-" if overhead is None else f"{overhead:.2f} ms",
            e(c.get("n_tasks", "-")),
            "-" if not c.get("peak_mem_mb") else f"{c['peak_mem_mb']:.0f}",
            f"{c.get('lost', '-')}/{c.get('duplicates', '-')}",
        ]
        tds = "".join(
            f'<td class="num">{x}</td>' if i >= 5 else f"<td>{x}</td>" for i, x in enumerate(cells)
        )
        rows.append(f'<tr class="{e(_status_class(c))}">{tds}</tr>')
    head = "".join(f"<th>{c}</th>" for c in cols)
    return f'<table id="cells"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "no"


def faults_table(doc: dict) -> str:
    """The faulted repetitions (--kill-worker, --kill-broker), one row per cell: reported
    here and never in the times above."""
    rows = []
    for c in doc.get("cells") or []:
        row = figures.fault_row(c)
        if row is None:
            continue
        cells = [
            e(c.get("engine")),
            e(label(c)),
            e(row["kind"]),
            e(row["target"]),
            _yes_no(row["in_flight"]),
            _yes_no(row["observed"]),
            e("-" if row["lost"] is None else row["lost"]),
            e("-" if row["duplicated"] is None else row["duplicated"]),
            e(
                fmt_s(row["recovery_s"])
                if row["failed_after_s"] is None
                else f"failed after {fmt_s(row['failed_after_s'])}"
            ),
            e(row["restart"] or ""),
            f'<span class="bad">{e(row["error"])}</span>' if row["error"] else "",
            e(row["note"] or ""),
        ]
        rows.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    if not rows:
        return ""
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "engine",
            "work",
            "fault",
            "killed",
            "in flight",
            "victim seen running a task",
            "lost",
            "duplicated",
            "recovery",
            "afterwards",
            "injection error",
            "notes",
        )
    )
    return (
        '<h3>Faults (the faulted repetition, kept out of the times)</h3><div class="scroll">'
        f'<table id="faults"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table></div>"
    )


def references_table(doc: dict) -> str:
    rows = []
    for workload, refs in (doc.get("references") or {}).items():
        if not isinstance(refs, dict):
            continue
        for name, r in refs.items():
            if not isinstance(r, dict):
                continue
            wall = r.get("wall") or {}
            time = (
                f"{fmt_s(wall.get('median'))} [{fmt_s(wall.get('min'))}–{fmt_s(wall.get('max'))}]"
                if wall.get("n")
                else r.get("error") or "-"
            )
            rows.append(
                f"<tr><td>{e(workload)}</td><td>{e(name)}</td><td class='num'>{e(time)}</td>"
                f"<td>{'yes' if r.get('verified') else 'no'}</td><td>{e(r.get('detail', ''))}</td></tr>"
            )
    if not rows:
        return "<p>No references recorded.</p>"
    return (
        '<table id="references"><thead><tr><th>workload</th><th>reference</th><th>time</th>'
        f"<th>verified</th><th>detail</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
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


def environment_html(doc: dict) -> str:
    env = doc.get("environment") or {}
    rows = "".join(
        f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>"
        for k, v in env.items()
        if not isinstance(v, dict)
    )
    libs = "".join(
        f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in (env.get("libraries") or {}).items()
    )
    settings = "".join(
        f"<tr><th>{e(k)}</th><td>{e(json.dumps(v) if isinstance(v, dict | list) else v)}</td></tr>"
        for k, v in (doc.get("settings") or {}).items()
    )
    engines = []
    for name, info in (doc.get("engines") or {}).items():
        if not isinstance(info, dict):
            continue
        describe = ", ".join(f"{k}={v}" for k, v in (info.get("describe") or {}).items())
        engines.append(
            f"<tr><td>{e(name)}</td><td>{e(info.get('status', '-'))}</td>"
            f"<td class='num'>{e(fmt_s(info.get('startup_s')))}</td>"
            f"<td class='num'>{e(fmt_s(info.get('close_s')))}</td>"
            f"<td class='num'>{e(info.get('idle_mem_mb', '-'))}</td><td>{e(describe)}</td></tr>"
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
    for name, info in (doc.get("engines") or {}).items():
        if isinstance(info, dict) and info.get("error"):
            items.append(
                f"<h4>engine {e(name)} ({e(info.get('status'))})</h4><pre>{e(info['error'])}</pre>"
            )
    for c in doc.get("cells") or []:
        message = c.get("error") or (c.get("reason") if c.get("status") != "ok" else None)
        if c.get("status") == "ok" and not c.get("verified"):
            message = c.get("verify_detail") or "answer did not verify"
        if message:
            items.append(
                f"<h4>{e(c.get('engine'))} / {e(label(c))}: {e(c.get('status'))}</h4>"
                f"<pre>{e(message)}</pre>"
            )
    return "".join(items) or "<p>No errors: every cell ran.</p>"


def render(doc: dict, plots: list, plot_note: str | None = None, source: str = "") -> str:
    created = doc.get("created", "")
    command = " ".join(str(x) for x in doc.get("command") or [])
    settings = doc.get("settings") or {}
    summary = (
        f"size {settings.get('size', '?')}, {settings.get('repeats', '?')} repetitions "
        f"after {settings.get('warmup', '?')} warm-up, workers "
        f"{settings.get('workers') or 'CPU count'}"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>distlab report {e(created)}</title>
<style>{CSS}</style></head>
<body>
<h1>distlab report</h1>
<p class="meta">Run {e(created)} on {e((doc.get("environment") or {}).get("host"))} · {e(summary)}
<br>command: <code>{e(command)}</code>{f"<br>results: <code>{e(source)}</code>" if source else ""}</p>
<nav><a href="#recommendations">Which engine for which work</a><a href="#matrix-section">Matrix</a>
<a href="#plots">Plots</a><a href="#environment-section">Environment</a><a href="#errors">Errors</a></nav>
<section id="recommendations"><h2>Which engine for which work</h2>
<p class="small">Derived from the measured numbers below; a winner is named only when its
repetitions separate from the runner-up's.</p>
{findings_html(doc)}</section>
<section id="matrix-section"><h2>Engine × workload matrix</h2>{matrix(doc)}
<h3>Every cell</h3>{details_table(doc)}
{faults_table(doc)}
<h3>Single-process references</h3>{references_table(doc)}</section>
<section id="plots"><h2>Plots</h2>{plots_html(plots, plot_note)}</section>
<section id="environment-section"><h2>Environment</h2>{environment_html(doc)}</section>
<section id="errors"><h2>Errors</h2>{errors_html(doc)}</section>
</body></html>
"""


def build_report(results_path_or_doc: str | Path | dict, out_dir: str | Path | None = None) -> Path:
    """Write out_dir/report.html and out_dir/plots/*.png|svg; return the page's path.

    out_dir defaults to the directory holding the results file.
    """
    if isinstance(results_path_or_doc, dict):
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
    plot_note = None
    # matplotlib is an optional extra: its absence is a note on the page, while any other
    # ImportError (a bug in the plots) fails loudly instead of hiding the plots
    if importlib.util.find_spec("matplotlib") is None:
        made, plot_note = [], "Plots need matplotlib: pip install 'distlab[report]'."
    else:
        from distlab.report.plots import render_all

        made = render_all(doc, out / "plots")
    page = out / "report.html"
    page.write_text(render(doc, made, plot_note, source), encoding="utf-8")
    return page
