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


def break_even_sentence(row: dict[str, Any]) -> str:
    """'on this machine dask needs tasks of at least 4.6 ms (90% efficiency)'."""
    name, at = row["engine"], row.get("break_even_ms")
    if "error" in row:
        return f"{name}: not measured ({row['error']})"
    if at is None:
        longest = ms_text(row["points"][-1]["task_ms"]) if row.get("points") else "?"
        return f"{name} did not reach 90% efficiency even with tasks of {longest}"
    share = row.get("time_share")
    left = f", {share:.0%} of the workers' time left to tasks" if share else ""
    return (
        f"on this machine {name} needs tasks of at least {ms_text(at)} to use "
        f"{row['workers']} workers at 90% (fitted: {ms_text(row.get('overhead_ms'))} per "
        f"task{left})"
    )


def break_even_table(rows: list[dict[str, Any]]) -> Table:
    """Per engine: the fitted overhead, the 90% break-even, efficiency per duration."""
    durations = []
    for r in rows:
        for p in r.get("points", []):
            if p["duration_ms"] not in durations:
                durations.append(p["duration_ms"])
    t = Table(
        title="break-even task size: CPU-bound tasks through map, every worker busy; "
        "efficiency = ideal / measured (median of the repetitions); fitted: efficiency = "
        "time share x d / (d + overhead)"
    )
    for col in ["engine", "workers", "overhead/task", "time share", "90% at", "90% (fit)"]:
        t.add_column(col)
    for d in durations:
        t.add_column(f"{ms_text(d)}", justify="right")
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
            ms_text(r.get("break_even_ms")) if r.get("break_even_ms") else "> longest",
            ms_text(r.get("fit_break_even_ms")),
            *[_eff_text(eff.get(d)) for d in durations],
        )
    return t


def _eff_text(point: dict[str, Any] | None) -> str:
    if point is None:
        return "-"
    rough = "~" if point["wall"].get("unstable") else ""
    return f"{rough}{point['efficiency']:.0%}"


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
        title="data size: round trip per way (median; MB/s moved), checksums verified; "
        "shared = share once + 2 tasks per worker reading it"
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
                f"{p['payload']} {_size(p['bytes'])}",
                _way_text(p.get("argument")),
                _way_text(p.get("result")),
                _way_text(p.get("shared")),
                f"{ms_text(p['make_s'] * 1e3)} / {ms_text(p['checksum_s'] * 1e3)}",
            )
        t.add_section()
    return t


def _size(nbytes: int) -> str:
    from distlab.bench_data import size_text

    return size_text(nbytes)


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
            text = f"{way} up to {_size(max(ok))}" if ok else f"{way}: none"
            if failed:
                text += f" (then: {failed})"
            parts.append(text)
        lines.append(f"{r['engine']}: " + "; ".join(parts))
        if copies:
            lines.append("  copies: " + "; ".join(f"{k}: {v}" for k, v in copies.items()))
    return lines
