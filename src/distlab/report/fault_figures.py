"""A cell's fault record in report form (``--kill-worker``, ``--kill-broker``,
``--cut-host``): what was hit, what it cost, what happened afterwards."""

from __future__ import annotations

from typing import Any, TypedDict

from distlab.report.figures import Cell, _number, fmt_s


class FaultRow(TypedDict):
    """What a faulted repetition showed, as every report writes it."""

    kind: str  # worker | broker | host cut
    target: str  # what was hit: "pid 123", the broker's name and pid, or the host cut
    in_flight: bool | None  # the run was still going when the kill landed
    observed: bool | None  # the victim was seen running one of this run's tasks
    lost: int | str | None  # "≥N": a lower bound (the run raised; the task log counted)
    duplicated: int | None  # re-executions (task starts beyond the first per task id)
    recovery_s: float | None  # from the kill to the end of the run
    failed_after_s: float | None  # from the kill to the run failing (it did not recover)
    restart: str | None  # what happened to the engine or broker afterwards
    error: str | None  # the injection's own failure (nothing killed, no broker...)
    note: str | None


def fault(cell: Cell) -> dict[str, Any]:
    """The cell's fault record ({} without one)."""
    record = cell.get("fault")
    return record if isinstance(record, dict) else {}


def has_fault(cell: Cell) -> bool:
    return bool(fault(cell))


def fault_row(cell: Cell) -> FaultRow | None:
    """The faulted repetition of a cell in report form; None when no fault was asked."""
    rec = fault(cell)
    if not rec:
        return None
    kind = rec.get("kind") or "worker"
    pid = rec.get("killed_pid")
    if kind == "broker":
        target = str(rec.get("broker") or "broker") + (f" (pid {pid})" if pid else "")
    elif kind == "host cut":
        away = f" off the network for {fmt_s(rec['down_s'])}" if rec.get("down_s") else ""
        target = f"{rec.get('host') or 'a worker host'}{away}"
    else:
        target = f"pid {pid}" if pid else "-"
    restart = None
    if rec.get("restarted") is True:
        restart = f"broker restarted after {fmt_s(rec.get('down_s'))}"
    elif rec.get("restart_error"):
        restart = f"broker restart failed: {rec['restart_error']}"
    elif kind == "broker" and pid and rec.get("restarted") is False:
        restart = "broker not restarted (keeps no data)"
    elif kind == "host cut" and rec.get("down_s"):
        noticed = {True: "noticed it", False: "did not notice"}.get(rec.get("engine_noticed"))
        restart = f"host back; the run ended {fmt_s(rec.get('after_restore_s'))} later"
        restart += f"; the engine {noticed}" if noticed else ""
    engine_restart = rec.get("engine_restart")
    if isinstance(engine_restart, dict):
        why = str(engine_restart.get("reason") or "")
        why = why if len(why) <= 120 else why[:119] + "…"
        text = f"engine restarted in {fmt_s(engine_restart.get('restart_s'))} ({why})"
        if engine_restart.get("error"):
            text = f"engine could not be restarted ({why}): {engine_restart['error']}"
        restart = f"{restart}; {text}" if restart else text
    lost: int | str | None = rec.get("lost")  # None: nobody could count
    if lost is not None and rec.get("lost_counted_by"):
        lost = f"≥{lost}"  # counted from the task log after the run raised: a lower bound
    notes = [rec[k] for k in ("run_error", "note", "note_tasks") if rec.get(k)]
    return {
        "kind": kind,
        "target": target,
        "in_flight": rec.get("in_flight"),
        "observed": rec.get("victim_observed"),
        "lost": lost,
        "duplicated": rec.get("duplicated"),
        "recovery_s": _number(rec.get("recovery_s")),
        "failed_after_s": _number(rec.get("failed_after_s")),
        "restart": restart,
        "error": rec.get("error"),
        "note": "; ".join(str(n) for n in notes) or None,
    }


def fault_summary(cell: Cell) -> str:
    """One line: what was killed, whether it hit the run, what it cost."""
    row = fault_row(cell)
    if row is None:
        return ""
    if row["error"] and row["target"] == "-":
        return f"{row['kind']} fault: {row['error']}"
    hit = "cut" if row["kind"] == "host cut" else f"killed {row['kind']}"
    parts = [f"{hit} {row['target']}"]
    if row["in_flight"] is False:
        parts.append("after the run (hit nothing)")
    elif row["in_flight"]:
        parts.append("mid-run")
    if row["observed"] is False and row["kind"] == "worker":
        parts.append("(not seen running a task)")
    figures_ = [
        f"lost {'-' if row['lost'] is None else row['lost']}",
        f"dup {'-' if row['duplicated'] is None else row['duplicated']}",
    ]
    if row["recovery_s"] is not None:
        figures_.append(f"recovery {fmt_s(row['recovery_s'])}")
    if row["failed_after_s"] is not None:
        figures_.append(f"run failed {fmt_s(row['failed_after_s'])} after the kill")
    text = " ".join(parts) + ": " + ", ".join(figures_)
    if row["restart"]:
        text += f"; {row['restart']}"
    if row["error"]:
        text += f"; {row['error']}"
    return text
