"""Older results files in the current layout, oldest step first (on the decoded JSON,
before it is read into the typed model).

The rule: every version bump adds one step here that turns a file of the previous
version into the next, and a file of any older version takes every step after its own.
"""

from __future__ import annotations

from typing import Any


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a results file of any version up to the current one) in the current
    layout; ``data`` itself is changed."""
    version = data.get("version", 1)
    for step_from, step in ((1, _v1_to_v2), (2, _v2_to_v3)):
        if version <= step_from:
            step(data)
            data["version"] = step_from + 1
    return data


def _v1_to_v2(data: dict[str, Any]) -> None:
    """Version 1 summed RSS (shared pages counted once per process)."""
    data["memory_measure"] = "rss"
    for cell in _cells(data):
        if "peak_rss_mb" in cell:
            cell["peak_mem_mb"] = cell.pop("peak_rss_mb")
    for engine in (data.get("engines") or {}).values():
        if isinstance(engine, dict) and "idle_rss_mb" in engine:
            engine["idle_mem_mb"] = engine.pop("idle_rss_mb")


def _v2_to_v3(data: dict[str, Any]) -> None:
    """Version 2 kept a cell's work_fraction and compute_s inside its metrics (a cell
    without one ran the whole work), and a workload's references beside its error."""
    for cell in _cells(data):
        metrics = cell.get("metrics")
        if isinstance(metrics, dict):
            cell["work_fraction"] = metrics.pop("work_fraction", 1.0)
            if "compute_s" in metrics:
                cell["compute_s"] = metrics.pop("compute_s")
    references = data.get("references")
    if isinstance(references, dict):
        for workload, refs in references.items():
            if not isinstance(refs, dict):
                continue
            runs = {k: v for k, v in refs.items() if isinstance(v, dict)}
            error = refs.get("error") if isinstance(refs.get("error"), str) else None
            references[workload] = {"runs": runs, **({"error": error} if error else {})}


def _cells(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's cells and its scaling curve's (the objects among them)."""
    cells = data.get("cells")
    scaling = data.get("scaling")
    more = scaling.get("cells") if isinstance(scaling, dict) else None
    return [
        c for group in (cells, more) if isinstance(group, list) for c in group
        if isinstance(c, dict)
    ]
