"""The history shown: a cell's medians over time (terminal), its steps (terminal), and
the report's "Since the last run on this machine" (HTML)."""

from __future__ import annotations

import html

from rich.table import Table

from distlab.report.compare import STYLE
from distlab.report.figures import fmt_s
from distlab.report.history import Series, SeriesVerdict, SinceLast, Step, version_changes


def series_table(series: Series) -> Table:
    """One series' medians, oldest first; versions in full on the first row, then only
    where they changed."""
    t = Table(
        title=f"{series.name} ({series.settings}) on {series.machine}",
        title_justify="left",
    )
    for col in ("recorded (UTC)", "by", "distlab", "speed", "median", "n", "range", "versions"):
        t.add_column(col, overflow="fold")
    previous = None
    for point in series.points:
        entry, rec = point.entry, point.recording
        if previous is None:
            versions = ", ".join(f"{k} {v}" for k, v in sorted(entry.versions.items()))
        else:
            versions = "; ".join(version_changes(previous.versions, entry.versions)) or "same"
        t.add_row(
            rec.recorded_at.replace("+00:00", "").replace("T", " "),
            rec.source,
            rec.code_version,
            "-" if rec.speed_s is None else f"{rec.speed_s:.3f} s",
            fmt_s(entry.median_s),
            str(len(entry.samples)),
            f"{fmt_s(min(entry.samples))} - {fmt_s(max(entry.samples))}",
            versions or "-",
        )
        previous = entry
    return t


def _when(step: Step) -> str:
    before, after = step.before.recording, step.after.recording
    return f"between #{before.id} ({before.recorded_at[:16]}) and #{after.id} ({after.recorded_at[:16]})"


def _interval_text(verdict: SeriesVerdict) -> str:
    latest = verdict.latest
    if latest is None:
        return ""
    reach = (
        f"{latest.coverage:.0%} interval"
        if latest.coverage >= 0.95 - 1e-9
        else f"whole range, {latest.coverage:.0%} coverage: too few repetitions for 95%"
    )
    came = "; ".join(latest.changes) if latest.changes else "no version changed"
    return (
        f"latest/previous {latest.ratio:.3f} [{latest.low:.3f}, {latest.high:.3f}] ({reach}); "
        f"between them: {came}"
    )


def regressions_table(verdicts: list[SeriesVerdict], threshold: float, alpha: float) -> Table:
    """Each series with its flagged steps (and the version changes with them), or 'no
    step' with the latest ratio's interval."""
    t = Table(
        title=f"steps beyond noise: a level change > {threshold:.0%} with a false discovery "
        f"rate q <= {alpha} over every step tested (Mann-Whitney over the repetitions)",
        title_justify="left",
    )
    for col in (
        "engine",
        "workload",
        "variant",
        "points",
        "verdict",
        "ratio",
        "where",
        "what came with it",
    ):
        t.add_column(col, overflow="fold")
    for verdict in verdicts:
        s = verdict.series
        shown = verdict.flagged or [st for st in verdict.steps if st.row.verdict == "noise"]
        if not shown:
            t.add_row(s.engine, s.workload, s.variant, str(len(s.points)), "no step", "-",
                      "-", _interval_text(verdict))  # fmt: skip
            continue
        for step in shown:
            style = STYLE.get(step.row.verdict, "")
            word = (
                step.row.verdict.upper() if step.row.verdict == "regression" else step.row.verdict
            )
            came = "; ".join(step.changes) if step.changes else "no version changed"
            if step.row.verdict == "noise":
                came = f"not significant ({step.row.note}); {came}"
            t.add_row(s.engine, s.workload, s.variant, str(len(s.points)),
                      f"[{style}]{word}[/]" if style else word, f"{step.row.ratio:.3f}",
                      _when(step), came)  # fmt: skip
    return t


def regression_lines(verdicts: list[SeriesVerdict]) -> list[str]:
    """One sentence per flagged step, then the count: what a CI log or a reader greps."""
    lines = []
    for verdict in verdicts:
        for step in verdict.flagged:
            came = ", ".join(step.changes) if step.changes else "no version changed"
            lines.append(
                f"{step.row.verdict}: {verdict.series.name} x{step.row.ratio:.3f} "
                f"{_when(step)}; with it: {came}"
            )
        if not verdict.flagged and verdict.latest is not None:
            lines.append(f"no step: {verdict.series.name}: {_interval_text(verdict)}")
    flagged = sum(len(v.flagged) for v in verdicts)
    lines.append(f"{flagged} step(s) beyond noise in {len(verdicts)} series of two or more entries")
    return lines


def since_html(since: SinceLast | None) -> str:
    """The report's short section, or nothing when there is no earlier comparable run."""
    if since is None:
        return ""
    e = html.escape
    comparison = since.comparison
    rows = []
    for r in comparison.rows:
        cls = {"regression": "bad", "improvement": "good"}.get(r.verdict, "")
        rows.append(
            f"<tr><td>{e(r.engine)}</td><td>{e(r.workload)}</td><td>{e(r.variant)}</td>"
            f'<td class="num">{e(fmt_s(r.a_s))}</td><td class="num">{e(fmt_s(r.b_s))}</td>'
            f'<td class="num">{r.ratio:.3f}</td><td class="{cls}">{e(r.verdict)}</td>'
            f"<td>{e(r.note)}</td></tr>"
        )
    earlier = since.earlier
    changed = "; ".join(since.changes) or "none"
    return (
        '<section id="since-last-run"><h2>Since the last run on this machine</h2>'
        f'<p class="small">Against the run of {e(earlier.recorded_at)} (distlab '
        f"{e(earlier.code_version)}, speed figure "
        f"{'-' if earlier.speed_s is None else f'{earlier.speed_s:.3f} s'}), cells both "
        f"ran: this/last per cell; a regression is slower by more than "
        f"{comparison.threshold:.0%} with q &lt;= {comparison.alpha} (as <code>distlab "
        f"compare</code>). Engine versions changed: {e(changed)}.</p>"
        '<table id="since-table"><thead><tr><th>engine</th><th>workload</th><th>variant</th>'
        "<th>last</th><th>this</th><th>this/last</th><th>verdict</th><th>note</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table></section>"
    )
