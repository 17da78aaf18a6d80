"""The terminal summary of a results document (rich tables)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def _fmt_s(x) -> str:
    if x is None:
        return "-"
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def _speedup(x) -> str:
    if not x:
        return "-"
    # far below 1, "1/N" reads better than 5e-05
    return f"{x:.2f}x" if x >= 0.1 else f"1/{1 / x:,.0f}x"


def _spread(wall: dict | None) -> str:
    if not wall or not wall.get("n"):
        return "-"
    text = f"{_fmt_s(wall['median'])} [{_fmt_s(wall['min'])}-{_fmt_s(wall['max'])}]"
    return text + (" !" if wall.get("unstable") else "")


def matrix_table(doc: dict) -> Table:
    t = Table(title="distlab results (median \\[min-max] of measured repetitions; ! = unstable)")
    for col in (
        "engine",
        "workload",
        "variant",
        "status",
        "verified",
        "time",
        "speed-up",
        "overhead/task",
        "peak MB",
        "note",
    ):
        t.add_column(col, overflow="fold")
    for c in doc["cells"]:
        status = c["status"]
        style = {"ok": "green", "failed": "red", "unsupported": "dim"}.get(status, "")
        note = c.get("error") or c.get("reason") or ""
        m = c.get("metrics") or {}
        if m.get("batch_size"):
            note = f"batch {m['batch_size']} ({m.get('batch_size_chosen')})"
        if m.get("capped"):
            note = f"{m['elements']} elements; full size ~{_fmt_s(m['extrapolated_full_s'])}"
        if m.get("latency_ms"):
            lat = m["latency_ms"]
            note = "round trip " + " ".join(
                f"{k}={v:.1f}ms"
                for k, v in lat.items()
                if v is not None and k in ("p50", "p99", "p99.9")
            )
        if m.get("critical_path_s"):
            note = (
                f"retries={m.get('retries', 0)}, critical path {_fmt_s(m['critical_path_s'])}"
                f" of {_fmt_s(m.get('sum_of_steps_s'))} in steps"
            )
        if m.get("measured_s") is not None and m.get("ideal_s") is not None:
            note = f"measured {_fmt_s(m['measured_s'])}, ideal ceil(N/R)*d {_fmt_s(m['ideal_s'])}"
        if m.get("throughput_eps"):
            note = f"{m['throughput_eps']:,.0f} events/s; " + note
        if c.get("fault"):
            note += f" lost={c.get('lost')} dup={c.get('duplicates')}"
        t.add_row(
            c["engine"],
            c["workload"],
            c.get("variant", "-"),
            f"[{style}]{status}[/]",
            "yes" if c.get("verified") else "no" if status == "ok" else "-",
            _spread(c.get("wall")),
            _speedup(c.get("speedup")),
            f"{c['per_task_overhead_ms']:.2f} ms"
            if c.get("per_task_overhead_ms") is not None
            else "-",
            f"{c['peak_rss_mb']:.0f}" if c.get("peak_rss_mb") else "-",
            note,
        )
    return t


def references_table(doc: dict) -> Table:
    t = Table(title="single-process references")
    for col in ("workload", "reference", "time", "verified"):
        t.add_column(col)
    for w, refs in doc.get("references", {}).items():
        for name, r in (refs or {}).items():
            if not isinstance(r, dict):
                continue
            t.add_row(
                w,
                name,
                _spread(r.get("wall")) if "wall" in r else r.get("error", "-"),
                "yes" if r.get("verified") else "no",
            )
    return t


def engines_table(doc: dict) -> Table:
    t = Table(title="engines")
    for col in ("engine", "status", "start-up", "idle MB", "settings", "error"):
        t.add_column(col, overflow="fold")
    for name, e in doc.get("engines", {}).items():
        d = e.get("describe") or {}
        t.add_row(
            name,
            e.get("status", "-"),
            _fmt_s(e.get("startup_s")),
            f"{e['idle_rss_mb']:.0f}" if e.get("idle_rss_mb") else "-",
            ", ".join(f"{k}={v}" for k, v in d.items()),
            e.get("error") or "",
        )
    return t


def print_summary(doc: dict, console: Console | None = None) -> None:
    console = console or Console()
    console.print(engines_table(doc))
    console.print(references_table(doc))
    console.print(matrix_table(doc))
