"""The report's "Choose by numbers" section: the smallest efficient task, the largest
practical payload and scaling with workers per engine, each with its spread, and the
user's own functions read against the break-even curve (figures: report.choose)."""

from __future__ import annotations

from typing import Any

from distlab.report.choose import (
    baseline_text,
    bench_rows,
    function_rows,
    has_choose,
    scaling_rows,
)
from distlab.report.choose_tables import (
    break_even_sentence,
    break_even_text,
    fit_text,
    ms_text,
    size_text,
)
from distlab.report.figures import fmt_s
from distlab.report.html_tables import e, spread_text
from distlab.report.html_tpch import tpch_html


def _table(head: list[str], rows: list[list[str]], table_id: str) -> str:
    th = "".join(f"<th>{e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f'<div class="scroll"><table id="{table_id}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'


def _td(text: Any, num: bool = False) -> str:
    return f'<td class="num">{e(text)}</td>' if num else f"<td>{e(text)}</td>"


def break_even_html(doc: dict) -> str:
    rows = bench_rows(doc, "break-even")
    if not rows:
        return ""
    out = []
    for r in rows:
        if "error" in r:
            out.append([_td(r["engine"]), f'<td class="failed" colspan="6">{e(r["error"])}</td>'])
            continue
        lo, hi = r.get("break_even_range_ms") or [None, None]
        at = r.get("break_even_ms")
        at_text = (
            f"{break_even_text(r)} [{ms_text(lo)}–{ms_text(hi) if hi else '> longest'}]"
            if at
            else "> longest"
        )
        out.append(
            [
                _td(r["engine"]),
                _td(r["workers"], True),
                _td(ms_text(r.get("overhead_ms")), True),
                _td(f"{r['time_share']:.0%}" if r.get("time_share") else "-", True),
                _td(at_text, True),
                _td(fit_text(r), True),
                _td(_asked_measured(r), True),
            ]
        )
    sentences = "".join(f"<li>{e(break_even_sentence(r))}</li>" for r in rows)
    return (
        "<h3>How small can a task be</h3>"
        + _table(
            [
                "engine",
                "workers",
                "overhead per task (fit)",
                "time share (fit)",
                "90% efficiency at [spread]",
                "90% (fit)",
                "task asked → measured (ms)",
            ],
            out,
            "break-even",
        )
        + f"<ul>{sentences}</ul>"
        + '<p class="small">CPU-bound tasks through <code>map</code>, every worker busy; efficiency '
        "= n × t / workers over the measured time, t the task time measured on the workers "
        "(the CPU time each task took there; the asked duration only sets the work; ! marks "
        "a task further than 1.5× from what was asked); fitted: efficiency = time share × "
        "d / (d + overhead), the share being what the engine's own processes leave to the "
        "tasks on these cores; [spread] = the same reading on the "
        "fastest and the slowest repetitions (<code>distlab bench break-even</code>).</p>"
    )


def _asked_measured(row: dict) -> str:
    return ", ".join(
        f"{ms_text(p['duration_ms'])} → {'!' if p.get('off_asked') else ''}{ms_text(p['task_ms'])}"
        for p in row["points"]
    )


def data_size_html(doc: dict) -> str:
    rows = bench_rows(doc, "data-size")
    if not rows:
        return ""
    out = []
    for r in rows:
        if "error" in r:
            out.append([_td(r["engine"]), f'<td class="failed" colspan="4">{e(r["error"])}</td>'])
            continue
        cells = [_td(r["engine"])]
        for way in ("argument", "result", "shared"):
            cells.append(f"<td>{_largest(r, way)}</td>")
        copies = r.get("copies") or {}
        cells.append(_td("; ".join(f"{k}: {v}" for k, v in copies.items())))
        out.append(cells)
    return (
        "<h3>How big can the data be</h3>"
        + _table(
            ["engine", "as argument", "as result", "shared once", "where the copies happen"],
            out,
            "data-size",
        )
        + '<p class="small">The largest NumPy array each way carried, with its round trip median '
        "[min–max]; the first failure and its reason; checksums verified "
        "(<code>distlab bench data-size</code>).</p>"
    )


def _largest(row: dict, way: str) -> str:
    """'16 MB: 62 ms [60 ms–70 ms]', then the first failure and its reason (HTML)."""
    ok = [p for p in row["points"] if p["payload"] == "array" and "wall" in (p.get(way) or {})]
    text = "none"
    if ok:
        best = max(ok, key=lambda p: p["bytes"])
        text = f"{size_text(best['bytes'])}: {spread_text(best[way])}"
    html = e(text)
    failed = next((p for p in row["points"] if "error" in (p.get(way) or {})), None)
    if failed:
        html += (
            f'<br><span class="bad">{e(size_text(failed["bytes"]))} failed</span>: '
            f'<span class="small">{e(failed[way]["error"])}</span>'
        )
    return html


def scaling_html(doc: dict) -> str:
    rows = scaling_rows(doc)
    if not rows:
        return ""
    counts = sorted({p["workers"] for r in rows for p in r["points"]})
    cpus = next((r["cpus"] for r in rows if r.get("cpus")), None)
    out = []
    for r in rows:
        by_n = {p["workers"]: p for p in r["points"]}
        cells = [
            _td(r["engine"]),
            _td(f"{r['workload']} {r['variant']}" if r["variant"] != "-" else r["workload"]),
            _td(f"{r['basis']}; speed-up {baseline_text(r)}"),
        ]
        for n in counts:
            p = by_n.get(n)
            cells.append(_td(_scaling_point_text(p) if p else "-"))
        f = r.get("serial_fraction")
        cells.append(_td(f"{f:.2f} ({r['fit_note']})" if f is not None else r["fit_note"]))
        out.append(cells)
    head = [
        "engine",
        "work",
        "compared",
        *[
            f"{n} worker{'s' if n > 1 else ''}" + (f" (> {cpus} CPUs)" if cpus and n > cpus else "")
            for n in counts
        ],
        "serial fraction (Amdahl fit)",
    ]
    over = (
        f" A count marked “&gt; {e(cpus)} CPUs” runs more workers than this machine has CPUs: "
        "its workers share cores, and it is left out of the fit."
        if cpus and counts[-1] > cpus
        else ""
    )
    return (
        "<h3>How far does it scale</h3>"
        + _table(head, out, "scaling")
        + '<p class="small">Each count at equal work (the “compared” column says which '
        "time: a one-task-per-element run fills a time budget, so more workers run more "
        "elements and are compared per element), median [min–max]; speed-up against the "
        "smallest count measured [from the slowest and fastest repetitions]; efficiency = "
        f"speed-up / the workers' multiple of that count.{over} "
        "(<code>distlab run --workers 1,2,...</code>).</p>"
    )


def _scaling_point_text(p: dict[str, Any]) -> str:
    t = p["time"]
    lo, hi = p["speedup_range"]
    ran = f" ({p['elements']} elements)" if p.get("elements") and p["work_share"] < 1 else ""
    return (
        f"{fmt_s(t['median'])} [{fmt_s(t['min'])}–{fmt_s(t['max'])}]{ran}; "
        f"×{p['speedup']:.2f} [{lo:.2f}–{hi:.2f}], {p['efficiency']:.0%}"
    )


def functions_html(doc: dict) -> str:
    rows = function_rows(doc)
    if not rows:
        return ""
    parts = ["<h3>Your functions</h3>"]
    for r in rows:
        items = []
        for x in r["engines"]:
            eff = f"{x['efficiency']:.0%}" if x["efficiency"] is not None else "-"
            be = x["break_even_ms"]
            verdict = ""
            if be is not None:
                enough = r["item_ms"] >= be
                verdict = f"; it needs tasks of ≥ {ms_text(be)} for 90%: " + (
                    "one task per item is efficient" if enough else "batch the items"
                )
            items.append(
                f"<li>{e(x['engine'])}: one task per item ran at {e(eff)} efficiency{e(verdict)}</li>"
            )
        parts.append(
            f"<p><b>{e(r['workload'])}</b>: {e(r['items'])} items of about "
            f"{e(ms_text(r['item_ms']))} each (its sequential run).</p><ul>{''.join(items)}</ul>"
        )
    return "".join(parts)


def choose_html(doc: dict) -> str:
    """The whole section, or '' when the document holds none of its figures."""
    if not has_choose(doc):
        return ""
    body = functions_html(doc) + break_even_html(doc) + data_size_html(doc) + scaling_html(doc)
    body += tpch_html(doc)
    return f'<section id="choose-section"><h2>Choose by numbers</h2>{body}</section>'
