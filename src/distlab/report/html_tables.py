"""The every-cell tables of the HTML report (details, faults, references) and the small
helpers the page shares (escaping, spread, status class)."""

from __future__ import annotations

import html
from typing import Any

from distlab.report import fault_figures, figures
from distlab.report.figures import fmt_s, fmt_x, label
from distlab.results import Results


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def spread_text(cell: dict) -> str:
    wall = cell.wall or {}
    if not wall.get("n") and cell.wall_s is None:
        return "-"
    med = wall.get("median", cell.wall_s)
    text = fmt_s(med)
    if wall.get("min") is not None and wall.get("max") is not None:
        text += f" [{fmt_s(wall['min'])}–{fmt_s(wall['max'])}]"
    return text + (" !" if wall.get("unstable") else "")


def status_class(cell: dict) -> str:
    status = cell.status or "unknown"
    if status == "ok" and not cell.verified:
        return "unverified"
    return status


def extrapolation_note(cell: dict) -> str:
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


def short_line(text: str, limit: int = 90) -> str:
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
    for c in doc.cells:
        overhead = c.per_task_overhead_ms
        cells = [
            e(c.engine),
            e(c.workload),
            e(c.variant),
            e(c.status),
            "yes" if c.verified else "no" if c.status == "ok" else "-",
            e(spread_text(c)),
            e(fmt_x(c.speedup)),
            e(fmt_x(c.speedup_vs_numpy)),
            "-" if overhead is None else f"{overhead:.2f} ms",
            e("-" if c.n_tasks is None else c.n_tasks),
            "-" if not c.peak_mem_mb else f"{c.peak_mem_mb:.0f}",
            f"{c.lost}/{c.duplicates}",
        ]
        tds = "".join(
            f'<td class="num">{x}</td>' if i >= 5 else f"<td>{x}</td>" for i, x in enumerate(cells)
        )
        rows.append(f'<tr class="{e(status_class(c))}">{tds}</tr>')
    head = "".join(f"<th>{c}</th>" for c in cols)
    return f'<table id="cells"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "no"


def faults_table(doc: dict) -> str:
    """The faulted repetitions (--kill-worker, --kill-broker), one row per cell: reported
    here and never in the times above."""
    rows = []
    for c in doc.cells:
        row = fault_figures.fault_row(c)
        if row is None:
            continue
        cells = [
            e(c.engine),
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


def references_table(doc: Results) -> str:
    rows = []
    for workload, refs in doc.references.items():
        if refs.error:
            rows.append(
                f"<tr><td>{e(workload)}</td><td>-</td><td class='num'>{e(refs.error)}</td>"
                "<td>no</td><td></td></tr>"
            )
        for name, r in refs.runs.items():
            wall = r.wall or {}
            time = (
                f"{fmt_s(wall.get('median'))} [{fmt_s(wall.get('min'))}–{fmt_s(wall.get('max'))}]"
                if wall.get("n")
                else r.error or "-"
            )
            rows.append(
                f"<tr><td>{e(workload)}</td><td>{e(name)}</td><td class='num'>{e(time)}</td>"
                f"<td>{'yes' if r.verified else 'no'}</td><td>{e(r.detail or '')}</td></tr>"
            )
    if not rows:
        return "<p>No references recorded.</p>"
    return (
        '<table id="references"><thead><tr><th>workload</th><th>reference</th><th>time</th>'
        f"<th>verified</th><th>detail</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def hosts_html(doc: Results) -> str:
    """Where each engine ran when it was deployed across test hosts (``--hosts``), and
    which of its links carried the asked delay; '' for a one-machine run."""
    rows = []
    for name, info in doc.engines.items():
        placed = info.hosts
        if not placed:
            continue
        where = ", ".join(f"{role}: {host}" for role, host in placed.placement.items())
        links = "; ".join(f"{k}: {v}" for k, v in placed.links.items())
        rows.append(
            f"<tr><td>{e(name)}</td><td>{e(placed.address)}</td><td>{e(where)}</td>"
            f"<td>{e(links)}</td></tr>"
        )
    if not rows:
        return ""
    settings = doc.settings
    links = settings.links
    return (
        f'<section id="hosts-section"><h2>Across {e(settings.hosts)} test hosts</h2>'
        f'<p class="small">driver on h0; round trip asked {e(links.get("rtt_ms", 0))} ms, loss '
        f"{e(links.get('loss_pct', 0))}%, rate {e(links.get('rate') or 'unlimited')}</p>"
        '<table id="hosts"><thead><tr><th>engine</th><th>driver connects to</th>'
        f"<th>placement</th><th>links</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "</section>"
    )


def rtt_html(doc: dict) -> str:
    """The `distlab bench rtt` file beside the results (``doc.benches["rtt"]``): tiny
    tasks at 0 ms and at a chosen round trip per engine; '' without one."""
    from distlab.report.bench_tables import RTT_COLUMNS, RTT_SLOPES_NOTE, rtt_cells
    from distlab.report.choose import bench_rows

    every = bench_rows(doc, "rtt")
    # a dataframe row (a query's time, not tasks) has its own table below
    rows = [r for r in every if "query" not in r]
    queries = _rtt_query_html([r for r in every if "query" in r])
    if not rows:
        return queries
    head, body = _rtt_head_body(rows, RTT_COLUMNS, rtt_cells)
    return (
        '<section id="rtt-section"><h2>When a network round trip costs milliseconds</h2>'
        f'<table id="rtt"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        '<p class="small">No-op tasks through <code>map</code> and sequential one-task round '
        "trips (p50), on test hosts with the engine's server and workers apart from the "
        "driver, at 0 ms and with the delay on the links named (<code>distlab bench "
        f"rtt</code>); {e(RTT_SLOPES_NOTE)}. RT ms per ms of RTT is about the number of "
        "delayed network round trips one task makes.</p></section>" + queries
    )


def _rtt_head_body(rows: list[dict], columns, cells) -> tuple[str, str]:
    """An RTT table's header (``{rtt}`` in a column name: the delayed round trip) and
    its rows, one per engine."""
    delayed = next((r["points"][-1] for r in rows if len(r.get("points", [])) == 2), {})
    rtt = delayed.get("rtt_ms")
    at = f"{rtt:g} ms" if isinstance(rtt, int | float) else "? ms"
    head = "".join(f"<th>{e(c.replace('{rtt}', at))}</th>" for c in columns)
    body = "".join(
        f"<tr><td>{e(r['engine'])}</td>" + "".join(f"<td>{e(c)}</td>" for c in cells(r)) + "</tr>"
        for r in rows
    )
    return head, body


def _rtt_query_html(rows: list[dict]) -> str:
    """`distlab bench rtt`'s dataframe rows: a TPC-H query's time at both round trips."""
    from distlab.report.bench_tables import RTT_QUERY_COLUMNS, RTT_SLOPES_NOTE, rtt_query_cells

    if not rows:
        return ""
    head, body = _rtt_head_body(rows, RTT_QUERY_COLUMNS, rtt_query_cells)
    return (
        '<section id="rtt-query-section"><h2>A dataframe query when a round trip costs '
        f'milliseconds</h2><table id="rtt-query"><thead><tr>{head}</tr></thead><tbody>{body}'
        '</tbody></table><p class="small">A small TPC-H query (SF 0.01; median time '
        "[min–max] of verified runs) on each dataframe engine deployed across the test "
        f"hosts, at 0 ms and with the delay on the links named; {e(RTT_SLOPES_NOTE)}.</p>"
        "</section>"
    )
