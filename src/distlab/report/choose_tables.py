"""The "choose by numbers" figures as terminal tables and sentences: the smallest
efficient task (`distlab bench break-even`), the largest practical payload (`distlab bench
data-size`) and scaling with workers (`distlab run --workers 1,2,...`)."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def ms_text(ms: float | None) -> str:
    if ms is None:
        return "-"
    if ms >= 1000:
        return f"{ms / 1000:.2g} s"
    return f"{ms:.2g} ms" if ms < 10 else f"{ms:.0f} ms"


def break_even_text(row: dict[str, Any]) -> str:
    """The measured 90% crossing: '4.6 ms', '0.1 ms or less' (the shortest task already
    reached it), or '> longest'."""
    at = row.get("break_even_ms")
    if at is None:
        return "> longest"
    return f"{ms_text(at)} or less" if row.get("break_even_at_most") else ms_text(at)


def fit_text(row: dict[str, Any]) -> str:
    """The fitted 90% crossing, marked where it lies outside the measured task times."""
    if "overhead_ms" not in row:
        return "- (too few points)"
    at = row.get("fit_break_even_ms")
    if at is None:
        return "never"
    return f"{ms_text(at)} (extrapolated)" if row.get("fit_extrapolated") else ms_text(at)


def break_even_sentence(row: dict[str, Any]) -> str:
    """'on this machine dask needs tasks of at least 4.6 ms (90% efficiency)'."""
    name, at = row["engine"], row.get("break_even_ms")
    if "error" in row:
        return f"{name}: not measured ({row['error']})"
    if at is None:
        longest = max((p["task_ms"] for p in row.get("points", [])), default=None)
        return f"{name} did not reach 90% efficiency even with tasks of {ms_text(longest)}"
    if row.get("break_even_at_most"):
        need = f"reaches 90% with {row['workers']} workers already with tasks of {ms_text(at)}"
        need += " (the shortest measured): its break-even is there or below"
    else:
        need = f"needs tasks of at least {ms_text(at)} to use {row['workers']} workers at 90%"
    share = row.get("time_share")
    left = f", {share:.0%} of the workers' time left to tasks" if share else ""
    fitted = (
        f" (fitted: {ms_text(row.get('overhead_ms'))} per task{left})"
        if "overhead_ms" in row
        else ""
    )
    off = row.get("off_asked") or []
    flagged = (
        f"; the tasks asked to take {', '.join(ms_text(d) for d in off)} took more than "
        "1.5x more or less, and stand at their measured times"
        if off
        else ""
    )
    return f"on this machine {name} {need}{fitted}{flagged}"


def break_even_table(rows: list[dict[str, Any]]) -> Table:
    """Per engine: the fitted overhead, the 90% break-even, efficiency per duration."""
    durations = []
    for r in rows:
        for p in r.get("points", []):
            if p["duration_ms"] not in durations:
                durations.append(p["duration_ms"])
    t = Table(
        title="break-even task size: CPU-bound tasks through map, every worker busy; "
        "efficiency = n x t / workers / measured (median of the repetitions), t the task "
        "time measured on the workers (shown under each asked duration; ! = further than "
        "1.5x from it); fitted: efficiency = time share x t / (t + overhead)"
    )
    for col in ["engine", "workers", "overhead/task", "time share", "90% at", "90% (fit)"]:
        t.add_column(col)
    for d in durations:
        t.add_column(f"asked {ms_text(d)}", justify="right")
    for r in rows:
        if "error" in r:
            t.add_row(r["engine"], f"[red]{r['error']}[/]", *[""] * (4 + len(durations)))
            continue
        eff = {p["duration_ms"]: p for p in r["points"]}
        t.add_row(
            r["engine"],
            str(r["workers"]),
            ms_text(r.get("overhead_ms")),
            f"{r['time_share']:.0%}" if r.get("time_share") else "-",
            break_even_text(r),
            fit_text(r),
            *[_eff_text(eff.get(d)) for d in durations],
        )
    return t


def _eff_text(point: dict[str, Any] | None) -> str:
    if point is None:
        return "-"
    rough = "~" if point["wall"].get("unstable") else ""
    off = "!" if point.get("off_asked") else ""
    return f"{rough}{point['efficiency']:.0%} at {off}{ms_text(point['task_ms'])}"


def _way_text(result: dict[str, Any] | None) -> str:
    if not result:
        return "-"
    if "error" in result:
        return f"[red]failed: {result['error']}[/]"
    if "skipped" in result:
        return f"[dim]{result['skipped']}[/]"
    wall = result["wall"]
    rough = "~" if wall.get("unstable") else ""
    rate = result["mb_per_s"]
    rate_text = f"{rate:,.0f} MB/s" if rate >= 10 else f"{rate * 1024:,.0f} KB/s"
    return f"{rough}{ms_text(wall['median'] * 1e3)} ({rate_text})"


def data_size_table(rows: list[dict[str, Any]]) -> Table:
    """Per engine and payload: the round trip of each way data meets a task."""
    t = Table(
        title="data size: round trip per way (median; MB/s = payload / round trip, the "
        "payload counted once per round trip), checksums verified; shared = share once + 2 "
        "tasks per worker reading it, counted once"
    )
    for col in ("engine", "payload", "argument", "result", "shared", "make / checksum"):
        t.add_column(col, overflow="fold")
    for r in rows:
        if "error" in r:
            t.add_row(r["engine"], f"[red]{r['error']}[/]", "", "", "", "")
            continue
        for i, p in enumerate(r["points"]):
            t.add_row(
                r["engine"] if i == 0 else "",
                f"{p['payload']} {size_text(p['bytes'])}",
                _way_text(p.get("argument")),
                _way_text(p.get("result")),
                _way_text(p.get("shared")),
                f"{ms_text(p['make_s'] * 1e3)} / {ms_text(p['checksum_s'] * 1e3)}",
            )
        t.add_section()
    return t


def size_text(nbytes: int) -> str:
    """A payload's size in the largest binary unit it reaches (1 KB = 1024 bytes)."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if nbytes >= factor:
            return f"{nbytes / factor:g} {unit}"
    return f"{nbytes} B"


def data_size_sentences(rows: list[dict[str, Any]]) -> list[str]:
    """Per engine: where its copies happen and the largest payload each way carried."""
    lines = []
    for r in rows:
        if "error" in r:
            continue
        copies = r.get("copies") or {}
        parts = []
        for way in ("argument", "result", "shared"):
            ok = [p["bytes"] for p in r["points"] if p["payload"] == "array" and "wall" in p[way]]
            failed = next(
                (p[way]["error"] for p in r["points"] if "error" in (p.get(way) or {})), None
            )
            text = f"{way} up to {size_text(max(ok))}" if ok else f"{way}: none"
            if failed:
                text += f" (then: {failed})"
            parts.append(text)
        lines.append(f"{r['engine']}: " + "; ".join(parts))
        if copies:
            lines.append("  copies: " + "; ".join(f"{k}: {v}" for k, v in copies.items()))
    return lines
