"""A cell's fault record in report form (``--kill-worker``, ``--kill-broker``,
``--cut-host``): what was hit, what it cost, what happened afterwards.

:func:`fault_verdict` is the figure of the row that ranks engines under a fault. A fault
that hit none of the run's busy work (no broker of ours, the run had ended, only idle
workers, a cut host with no worker: the record's ``not_hit``) is "no fault", never a
"0" that would read as work that survived it; a run that lost work says how much of it
("lost 8 of 10"), also when losing it made the answer wrong and failed the cell."""

from __future__ import annotations

from dataclasses import dataclass
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
    record = cell.fault
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
    verdict = fault_verdict(cell)
    if row["error"] and (row["target"] == "-" or (verdict and not verdict.happened)):
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


#: FaultVerdict.severity: nothing lost or duplicated; duplicates only; work lost; the
#: fault hit none of the run's busy work
CLEAN, DUP, LOST, NONE = "clean", "dup", "lost", "none"


@dataclass(frozen=True)
class FaultVerdict:
    """What the fault did to the run it was injected into."""

    #: the fault hit busy work of this run (a victim doing this run's work, or a broker or
    #: host the run depended on, while the run was in flight)
    happened: bool
    lost: int | None  # tasks lost (None: could not be counted)
    duplicated: int | None  # executions beyond the first per task (None: not counted)
    total: int | None  # the run's tasks, when known (for "lost 8 of 10")
    text: str  # "0", "lost 8 of 10", "2 dup", "no fault", ...
    severity: str  # CLEAN | DUP | LOST | NONE
    reason: str  # why "no fault", or what was lost; "" when clean
    value: float | None  # what the row ranks: lost + duplicated when it happened


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _why_not_hit(rec: dict[str, Any]) -> str | None:
    """Why the fault hit none of the run's busy work; None when it did."""
    if rec.get("not_hit"):
        return str(rec["not_hit"])
    # what a record says without ``not_hit`` (a results file from before it was written)
    cut = (rec.get("kind") or "worker") == "host cut"
    hit = rec.get("at_s") is not None if cut else bool(rec.get("killed_pid"))
    if not hit:
        return str(rec.get("error") or "nothing was hit")
    if rec.get("in_flight") is False:
        return f"the {'cut' if cut else 'kill'} came after the run ended"
    return None


def _duplicated(cell: Cell, rec: dict[str, Any]) -> int | None:
    """Executions beyond the first: the task log's count, or the duplicate results the
    cell saw when more (None when the executions were not counted and none was seen)."""
    counted = [_count(rec.get("duplicated")), _count(cell.duplicates)]
    if counted[0] is None and not counted[1]:
        return None
    return max(x for x in counted if x is not None)


def fault_verdict(cell: Cell) -> FaultVerdict | None:
    """The fault's figure for this cell; None when no fault was asked for it."""
    rec = fault(cell)
    if not rec:
        return None
    total = _count(rec.get("tasks")) or _count(cell.n_tasks) or None
    why_not = _why_not_hit(rec)
    if why_not is not None:
        return FaultVerdict(False, None, None, total, "no fault", NONE, why_not, None)
    run_error = rec.get("run_error")
    if run_error:  # the run raised: what it lost only the task log could count, or nobody
        lost = _count(rec.get("lost"))
    else:
        lost = _count(cell.lost)
        lost = _count(rec.get("lost")) if lost is None else lost
    duplicated = _duplicated(cell, rec)
    known = [x for x in (lost, duplicated) if x is not None]
    value = float(sum(known)) if known else None
    dup_text = f"{duplicated} dup" if duplicated else ""
    if lost:
        bound = "≥" if rec.get("lost_counted_by") else ""
        of = f" of {total}" if total else ""
        text = f"lost {bound}{lost}{of}" + (f", {dup_text}" if dup_text else "")
        reason = f"{bound}{lost}{of} tasks lost under the fault"
        if bound:
            reason += f" (counted by the {rec['lost_counted_by']})"
        if run_error:
            reason += f"; the run failed: {run_error}"
        return FaultVerdict(True, lost, duplicated, total, text, LOST, reason, value)
    if run_error or lost is None:  # it raised, and nothing could count what it lost
        why = run_error or cell.error or "what it lost could not be counted"
        reason = f"the run failed under the fault: {why}"
        return FaultVerdict(True, lost, duplicated, total, "run failed", LOST, reason, value)
    if cell.status == "failed" and cell.verify_detail:
        reason = f"nothing counted as lost, but the answer was wrong: {cell.verify_detail}"
        return FaultVerdict(True, lost, duplicated, total, "wrong answer", LOST, reason, value)
    if duplicated:
        reason = f"{duplicated} task executions beyond the first (work done twice)"
        return FaultVerdict(True, lost, duplicated, total, dup_text, DUP, reason, value)
    return FaultVerdict(True, lost, duplicated, total, "0", CLEAN, "", value)
