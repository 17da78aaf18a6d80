"""The versioned results file: the only thing measuring and reporting share.

Layout (schema ``distlab.results``, version 2; version 1 files load, upgraded)::

    {"schema": "distlab.results", "version": 2, "created": ISO-8601, "command": [...],
     "environment": {host, platform, cpus, memory_gb, python, distlab, libraries{...}},
     "settings": {size, repeats, warmup, workers, kill_worker, ...}, "memory_measure": "pss",
     "engines": {name: {status, startup_s, close_s, idle_mem_mb, describe{...}, error}},
     "references": {workload: {name: {wall stats}, "verified": ...}},
     "cells": [{engine, workload, variant, status, reason, error, verified, verify_detail,
                wall_s, wall{median,min,max,...,samples}, speedup, per_task_overhead_ms,
                n_tasks, peak_mem_mb, startup_s, lost, duplicates, metrics{...},
                answer{value | length, checksum, checksum_of, first, last}}]}

Environment and versions are stored once per file, not per cell. ``load`` upgrades older
versions so old files keep loading.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as md
import json
import os
import platform
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import psutil

from distlab.contracts import DistlabError

SCHEMA = "distlab.results"
VERSION = 2
#: how peak and idle memory are measured (version 1 files measured RSS)
MEMORY_MEASURE = "pss"

# distributions every run records when present; each engine adds its own (the registry)
CORE_LIBRARIES = ("distlab", "numpy", "scikit-learn", "cloudpickle", "psutil")


def library_versions(names: tuple[str, ...] | None = None) -> dict[str, str]:
    """Installed versions of ``names`` (default: the core and every engine's libraries)."""
    if names is None:
        from distlab.registry import all_libraries

        names = CORE_LIBRARIES + all_libraries()
    out = {}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return out


def environment() -> dict[str, Any]:
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "libraries": library_versions(),
    }


def new(command: list[str], settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "environment": environment(),
        "settings": settings,
        "engines": {},
        "references": {},
        "memory_measure": MEMORY_MEASURE,
        "cells": [],
    }


def writable_dir(path: Path, what: str = "--out") -> Path:
    """Create ``path`` if needed and prove a file can be written there; one line
    (DistlabError) when it is a file or cannot be written: before anything starts."""
    if path.exists() and not path.is_dir():
        raise DistlabError(f"{what} {path} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".distlab-write-check-"):
            pass
    except OSError as exc:
        raise DistlabError(
            f"{what} {path} cannot be written: {exc.strerror or exc.__class__.__name__}"
        ) from None
    return path


def save(data: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=jsonable))
    tmp.replace(path)
    return path


def jsonable(obj: Any) -> Any:
    """What JSON cannot encode itself: numpy scalars, sets and tuples, else the text."""
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return str(obj)


def load(path: str | Path) -> dict[str, Any]:
    """Read a results file (a file or a directory holding results.json), upgrading old ones."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise DistlabError(f"no results file at {p}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DistlabError(f"{p} is not a results file ({exc.__class__.__name__})") from None
    except OSError as exc:  # a directory, no permission, an I/O error
        raise DistlabError(
            f"cannot read the results file {p}: {exc.strerror or exc.__class__.__name__}"
        ) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise DistlabError(f"{p} is not a distlab results file")
    version = data.get("version", 0)
    if not isinstance(version, int) or version > VERSION:
        raise DistlabError(f"{p} has results version {version!r}; this distlab reads <= {VERSION}")
    problem = _layout_problem(data)
    if problem:
        raise DistlabError(f"{p} is not a readable distlab results file: {problem}")
    return _upgrade(data)


def _layout_problem(data: dict[str, Any]) -> str | None:
    """What in the layout the reports rely on is broken (None: nothing)."""
    for key in ("engines", "references", "settings", "environment"):
        if key in data and not isinstance(data[key], dict):
            return f"{key!r} is not an object"
    cells = data.get("cells", [])
    if not isinstance(cells, list):
        return "'cells' is not a list"
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict):
            return f"cell {i} is not an object"
        for key in ("engine", "workload", "status"):
            if not isinstance(cell.get(key), str):
                return f"cell {i} has no {key!r}"
        for key in ("metrics", "wall", "answer", "fault"):
            if cell.get(key) is not None and not isinstance(cell[key], dict):
                return f"cell {i}: {key!r} is not an object"
    return None


def _upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """Older versions in the current layout, oldest step first."""
    data.setdefault("references", {})
    data.setdefault("engines", {})
    if data.get("version", 1) < 2:
        # version 1 summed RSS (shared pages counted once per process)
        data["memory_measure"] = "rss"
        for cell in data.get("cells") or []:
            cell["peak_mem_mb"] = cell.pop("peak_rss_mb", None)
        for engine in data["engines"].values():
            if isinstance(engine, dict) and "idle_rss_mb" in engine:
                engine["idle_mem_mb"] = engine.pop("idle_rss_mb")
        data["version"] = 2
    return data
