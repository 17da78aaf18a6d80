"""The table "a worker dies mid-task" (``--kill-worker``) and its broker twin
(``--kill-broker``): one row per engine and setting (``rq:defaults``,
``rq:at_least_once``) and piece of work, saying what became of the task the dead worker
held: lost, re-run once, re-run more than once, reported failed; how long until it was
done again or given up on; who noticed. Built from the cells' fault records only
(distlab.run.faults), for the shapes of work that run on distlab's tasks (the task log
counts every execution there).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from distlab import registry
from distlab.contracts import DistlabError
from distlab.report.fault_figures import fault
from distlab.report.figures import Cell, fmt_s

COLUMNS = (
    "engine (settings)",
    "work",
    "what became of the victim's task",
    "lost",
    "duplicated",
    "task done again after",
    "loss noticed by, after",
    "the settings",
)

TITLES = {"worker": "A worker dies mid-task", "broker": "The broker dies mid-run"}


@dataclass(frozen=True)
class DeathRow:
    engine: str
    work: str
    outcome: str
    lost: str
    duplicated: str
    done_again: str
    noticed: str
    settings: str

    def cells(self) -> list[str]:
        return [self.engine, self.work, self.outcome, self.lost, self.duplicated,
                self.done_again, self.noticed, self.settings]  # fmt: skip


def outcome(rec: dict[str, Any]) -> str:
    """What became of the work the fault hit, in a few words."""
    if rec.get("not_hit"):
        return f"not hit: {rec['not_hit']}"
    if rec.get("error") and not rec.get("killed_pid"):
        return f"not injected: {rec['error']}"
    lost = rec.get("lost") or 0
    duplicated = rec.get("duplicated") or 0
    if lost:
        by = rec.get("loss_noticed_by")
        late = ""
        if rec.get("victim_task_done_s") is not None:  # it came back, after the caller gave up
            late = f" (it did run again, {fmt_s(rec['victim_task_done_s'])} after the kill)"
        if by == "the queue":
            return "reported failed by the queue" + late
        if by == "distlab":
            return "lost, never reported (distlab's watch gave up on it)" + late
        return "lost" + late
    if duplicated == 1:
        return "re-run once"
    if duplicated > 1:
        return f"re-run {duplicated} times"
    if rec.get("run_error"):
        return f"the run failed: {rec['run_error']}"
    return "done, none lost or re-run"


def settings_text(engine: str) -> str:
    """The settings preset's own words (its help), '' for a plain engine name."""
    base, preset = registry.split_name(engine)
    if preset is None:
        return ""
    try:
        return registry.entry(base).preset(preset).help
    except DistlabError:  # an engine not installed where the report is made
        return preset


def death_rows(cells: list[Cell], kind: str = "worker") -> list[DeathRow]:
    """One row per faulted cell of this fault kind that ran distlab's tasks."""
    rows = []
    for cell in cells:
        rec = fault(cell)
        if rec.get("kind", "worker") != kind or not rec.get("tasks_observed"):
            continue
        noticed = ""
        if rec.get("loss_noticed_by"):
            noticed = f"{rec['loss_noticed_by']}, {fmt_s(rec.get('loss_noticed_s'))}"
        done_again = rec.get("victim_task_done_s")
        rows.append(
            DeathRow(
                engine=cell.engine,
                work=f"{cell.workload} {cell.variant}",
                outcome=outcome(rec),
                lost="-" if rec.get("lost") is None else str(rec["lost"]),
                duplicated="-" if rec.get("duplicated") is None else str(rec["duplicated"]),
                done_again=fmt_s(done_again) if done_again is not None else "-",
                noticed=noticed or "-",
                settings=settings_text(cell.engine),
            )
        )
    return rows


def death_tables(cells: list[Cell]) -> list[Table]:
    """The terminal tables, one per fault kind that has rows; the settings' own words
    below each table, once per engine and settings."""
    tables = []
    for kind, title in TITLES.items():
        rows = death_rows(cells, kind)
        if not rows:
            continue
        settings = {r.engine: r.settings for r in rows if r.settings}
        caption = "\n".join(f"{name}: {text}" for name, text in settings.items())
        table = Table(title=title, caption=caption or None, caption_justify="left")
        for column in COLUMNS[:-1]:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row.cells()[:-1])
        tables.append(table)
    return tables


def death_html(cells: list[Cell]) -> str:
    """The same tables for the page ('' when no cell had such a fault)."""
    parts = []
    for kind, title in TITLES.items():
        rows = death_rows(cells, kind)
        if not rows:
            continue
        head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in row.cells()) + "</tr>"
            for row in rows
        )
        parts.append(
            f'<h2 id="{kind}-death">{html.escape(title)}</h2><p class="small">What became of '
            "the task the fault hit, per engine and settings (a queue under its defaults and "
            "under the settings its documentation gives for at-least-once delivery); the "
            "faulted repetition is kept out of every time.</p>"
            f'<div class="scroll"><table id="{kind}-deaths"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>"
        )
    return "".join(parts)
