"""What a run or a bench adds to the history: its timed cells, with their repetitions.

A run's cell enters as the figure that ranks it (its repetitions for the full workload,
report/figures.py), only when it verified and its time is a contest (a cached re-run or
a paced loop is reported, never ranked, so it is not followed either). A bench row
enters as every list of seconds it measured (tiny-tasks: ``adapter_samples_s`` and
``native_samples_s``, i.e. variants ``adapter`` and ``native``), since each bench has its
own figures and a new bench should be followed without a line here.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distlab import machine_speed, registry
from distlab.contracts import DistlabError
from distlab.report.figures import headline, is_race, wall_samples
from distlab.results import Results, library_versions
from distlab.results import history as store

#: a list item's own name inside a bench row (a sweep's batch size, a curve's duration)
_ITEM_NAMES = ("batch_size", "duration_ms", "size", "way", "query", "sf", "label", "engine")


def _engine_versions(engine: str) -> dict[str, str]:
    """The installed versions of an engine's libraries ({} for a row that is no engine,
    e.g. a stream bench's raw pipe)."""
    try:
        return library_versions(registry.entry(engine).libraries)
    except DistlabError:
        return {}


def run_entries(doc: Results) -> list[store.CellEntry]:
    """A results document's timed, verified cells."""
    settings = doc.settings
    entries = []
    for cell in doc.cells:
        if cell.status != "ok" or not cell.verified or not is_race(cell):
            continue
        if headline(cell)["name"] != "median time (s)":  # a stream's rate or p99
            continue
        samples = [float(x) for x in wall_samples(cell) if x > 0]
        if not samples:
            continue
        record = doc.engines.get(cell.engine)
        versions = dict(record.versions) if record and record.versions else {}
        params = settings.params.get(cell.workload) or {}
        entries.append(
            store.CellEntry(
                engine=cell.engine,
                workload=cell.workload,
                variant=cell.variant or "-",
                settings=_settings_text({"size": settings.size, "workers": cell.workers, **params}),
                samples=samples,
                versions=versions or _engine_versions(cell.engine),
            )
        )
    return entries


def bench_entries(
    benchmark: str, rows: list[dict[str, Any]], params: dict
) -> list[store.CellEntry]:
    """A bench's rows as cells: engine (or row label) x bench x each list of seconds."""
    settings = _settings_text({k: v for k, v in params.items() if k != "label"})
    entries = []
    for row in rows:
        if "error" in row or not isinstance(row.get("engine"), str):
            continue
        name = str(row.get("label") or row["engine"])
        versions = _engine_versions(row["engine"])
        # a bench with several rows per engine (TPC-H: one per scale and query) names
        # each row's own place in its variants
        place = " ".join(
            f"{k}={row[k]}" for k in _ITEM_NAMES if k in row and k not in ("engine", "label")
        )
        for variant, samples in _seconds_lists(row, ""):
            entries.append(
                store.CellEntry(
                    name,
                    benchmark,
                    f"{place}: {variant}" if place else variant,
                    settings,
                    samples,
                    versions,
                )  # fmt: skip
            )
    return entries


def _is_seconds_list(key: str, value: Any) -> bool:
    """A list of repetitions in seconds: named so (``*_samples_s``, ``*_s``, a summary's
    ``samples``, granularity's ``auto_samples``) and every item a positive number."""
    named = key == "samples" or key.endswith(("_samples", "_s"))
    return (
        named
        and isinstance(value, list)
        and bool(value)
        and all(isinstance(x, int | float) and not isinstance(x, bool) and x > 0 for x in value)
    )


def _variant_name(path: str) -> str:
    """'adapter_samples_s' -> 'adapter', 'sweep[batch_size=1000].samples' ->
    'sweep[batch_size=1000]', 'points[duration_ms=1].wall.samples' -> 'points[duration_ms=1]'."""
    for suffix in (".wall.samples", ".samples", "_samples_s", "_samples"):
        if path.endswith(suffix) and len(path) > len(suffix):
            return path.removesuffix(suffix)
    return path


def _seconds_lists(value: Any, prefix: str) -> Iterator[tuple[str, list[float]]]:
    """Every list of seconds in a bench row, named by where it sits."""
    if isinstance(value, dict):
        for key, item in value.items():
            if _is_seconds_list(key, item):
                yield _variant_name(prefix + key), [float(x) for x in item]
            elif isinstance(item, dict | list):
                yield from _seconds_lists(item, f"{prefix}{key}.")
    elif isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        base = prefix.removesuffix(".")
        for index, item in enumerate(value):
            named = next((f"{k}={item[k]}" for k in _ITEM_NAMES if k in item), str(index))
            yield from _seconds_lists(item, f"{base}[{named}].")


def _settings_text(settings: dict[str, Any]) -> str:
    """'size=tiny workers=2': what must match for two cells to be compared."""
    return " ".join(f"{k}={'-' if v is None else v}" for k, v in sorted(settings.items()))


def record_run(doc: Results, results_path: Path, history: Path | None) -> int | None:
    """Append a finished run's cells to the history (nothing when it is off or the run
    timed none); returns how many cells were recorded."""
    entries = run_entries(doc)
    if history is None or not entries:
        return None
    env = doc.environment
    recording = store.Recording(
        source="run",
        machine=store.machine_identity(env.host, env.cpus),
        code_version=store.code_version(),
        speed_s=machine_speed.seconds(env.speed),
        results_path=str(results_path.resolve()),
    )
    store.append(history, recording, entries)
    return len(entries)


def record_bench(
    benchmark: str,
    rows: list[dict[str, Any]],
    params: dict,
    history: Path | None,
    speed_s: float | None = None,
) -> int | None:
    """Append a bench's cells to the history, with the bench's speed figure (``speed_s``),
    or one timed now (after the engines stopped: the machine is as quiet as the bench
    left it)."""
    entries = bench_entries(benchmark, rows, params)
    if history is None or not entries:
        return None
    recording = store.Recording(
        source=f"bench {benchmark}",
        machine=store.machine_identity(socket.gethostname(), os.cpu_count()),
        code_version=store.code_version(),
        speed_s=speed_s if speed_s is not None else machine_speed.measure()["seconds"],
    )
    store.append(history, recording, entries)
    return len(entries)
