"""Reading the history: a cell's medians over time, its steps beyond noise, and what
changed since the last run on this machine.

Only entries of one machine identity and the same settings form a series: a faster
machine or a larger size is not a regression. Steps are proposed by the penalised fit of
report/history_steps.py and judged as ``distlab compare`` judges two runs: the ratio of
the levels beyond the threshold (10%) and a two-sided Mann-Whitney test over the
repetitions either side significant once every step tested is accounted for
(Benjamini-Hochberg, a false discovery rate of 5%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from distlab.contracts import DistlabError
from distlab.report import compare as cmp
from distlab.report.history_cells import run_entries
from distlab.report.history_steps import MAX_POINTS, detect
from distlab.results import Results
from distlab.results import history as store
from distlab.stats import mann_whitney_p, shift_interval

CONFIDENCE = 0.95


@dataclass
class Series:
    """One cell's entries on one machine with one set of settings, oldest first."""

    engine: str
    workload: str
    variant: str
    settings: str
    machine: str
    points: list[store.Point] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.engine} / {self.workload} / {self.variant}"


@dataclass
class Step:
    """A move of a series between two fitted levels, with compare's verdict on it."""

    series: Series
    #: the last point before the step and the first after it
    before: store.Point
    after: store.Point
    row: cmp.Row
    #: the engine library versions that differ between ``before`` and ``after``
    changes: list[str]

    @property
    def flagged(self) -> bool:
        return self.row.verdict in ("regression", "improvement")


@dataclass
class Latest:
    """The latest point against the one before: ratio with its Hodges-Lehmann interval."""

    ratio: float
    low: float
    high: float
    coverage: float
    #: the versions that changed between the two (an upgrade that moved nothing shows)
    changes: list[str] = field(default_factory=list)


@dataclass
class SeriesVerdict:
    series: Series
    steps: list[Step] = field(default_factory=list)
    latest: Latest | None = None

    @property
    def flagged(self) -> list[Step]:
        return [s for s in self.steps if s.flagged]


def series_of(points: list[store.Point]) -> list[Series]:
    """The points grouped into series, in the order each series first appears."""
    grouped: dict[tuple[str, ...], Series] = {}
    for point in points:
        entry = point.entry
        key = (*entry.key, point.recording.machine)
        if key not in grouped:
            grouped[key] = Series(*key)
        grouped[key].points.append(point)
    return list(grouped.values())


def version_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """'dask 2026.7.0 -> 2026.8.0' for each library whose version differs."""
    return [
        f"{name} {before.get(name, 'absent')} -> {after.get(name, 'absent')}"
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]


def changes_between(before: store.Point, after: store.Point) -> list[str]:
    """Engine library version changes, then distlab's own (its code is measured too)."""
    changes = version_changes(before.entry.versions, after.entry.versions)
    code_a, code_b = before.recording.code_version, after.recording.code_version
    if code_a != code_b:
        changes.append(f"distlab {code_a} -> {code_b}")
    return changes


def _pooled(points: list[store.Point]) -> list[float]:
    return [x for p in points for x in p.entry.samples]


def _candidate_steps(series: Series) -> list[Step]:
    points = series.points[-MAX_POINTS:]
    segments = detect([p.entry.samples for p in points])
    steps = []
    for left, right in zip(segments, segments[1:], strict=False):
        before, after = points[left.start : left.end], points[right.start : right.end]
        a, b = _pooled(before), _pooled(after)
        row = cmp.Row(series.engine, series.workload, series.variant)
        row.a_s, row.b_s = left.level, right.level
        row.ratio = right.level / left.level
        row.p = mann_whitney_p(a, b)
        row.n = (len(a), len(b))
        steps.append(Step(series, before[-1], after[0], row, changes_between(before[-1], after[0])))
    return steps


def latest_change(series: Series) -> Latest | None:
    """The latest point against the previous: the ratio of their medians with the
    interval of the Hodges-Lehmann shift of their log repetitions (the shifts the
    Mann-Whitney test would not reject at 95%)."""
    if len(series.points) < 2:
        return None
    a = [math.log(x) for x in series.points[-2].entry.samples]
    b = [math.log(x) for x in series.points[-1].entry.samples]
    ratio = series.points[-1].entry.median_s / series.points[-2].entry.median_s
    _, low, high, coverage = shift_interval(a, b, CONFIDENCE)
    changes = changes_between(series.points[-2], series.points[-1])
    return Latest(ratio, math.exp(low), math.exp(high), coverage, changes)


def regressions(
    points: list[store.Point], threshold: float = cmp.THRESHOLD, alpha: float = cmp.ALPHA
) -> list[SeriesVerdict]:
    """Every series of two or more points with its steps judged, all steps of all series
    counted together for the false discovery rate (as compare counts a file's cells)."""
    verdicts = [SeriesVerdict(s) for s in series_of(points) if len(s.points) >= 2]
    for verdict in verdicts:
        verdict.steps = _candidate_steps(verdict.series)
        verdict.latest = latest_change(verdict.series)
    judged = cmp.Comparison("", "", threshold=threshold, alpha=alpha)
    judged.rows = [step.row for v in verdicts for step in v.steps]
    cmp.judge(judged, threshold, alpha)
    return verdicts


# ---- since the last run on this machine ------------------------------------------------


@dataclass
class SinceLast:
    """This run against the latest earlier run of the same machine in the history."""

    earlier: store.Recording
    comparison: cmp.Comparison
    changes: list[str]


def since_last_run(doc: Results, source: str | Path, history: Path | None) -> SinceLast | None:
    """The comparison with the latest earlier run on this machine that shares cells with
    this one (None: no history, or no such run)."""
    if history is None or not history.is_file():
        return None
    machine = store.machine_identity(doc.environment.host, doc.environment.cpus)
    this = str(Path(source).resolve()) if source else None
    try:
        points = [
            p
            for p in store.load(history)
            if p.recording.machine == machine
            and p.recording.source == "run"
            and p.recording.results_path != this
            # both to the second: a run recorded in the second this one was created in
            # came before it (a tiny run takes longer than a second)
            and (not doc.created or p.recording.recorded_at <= doc.created)
        ]
    except DistlabError:  # an unreadable history costs the section, not the report
        return None
    current = {entry.key: entry for entry in run_entries(doc)}
    for rid in sorted({p.recording.id for p in points}, key=_order(points), reverse=True):
        earlier = {p.entry.key: p for p in points if p.recording.id == rid}
        shared = [key for key in current if key in earlier]
        if shared:
            return _compare_with(earlier, current, shared)
    return None


def _order(points: list[store.Point]):
    when = {p.recording.id: (p.recording.recorded_at, p.recording.id or 0) for p in points}
    return when.__getitem__


def _compare_with(
    earlier: dict[tuple, store.Point], current: dict[tuple, store.CellEntry], shared: list
) -> SinceLast:
    out = cmp.Comparison("the last run", "this run")
    changes: set[str] = set()
    for key in shared:
        before, now = earlier[key], current[key]
        row = cmp.Row(now.engine, now.workload, now.variant)
        row.a_s, row.b_s = before.entry.median_s, now.median_s
        row.ratio = row.b_s / row.a_s
        row.p = mann_whitney_p(before.entry.samples, now.samples)
        row.n = (len(before.entry.samples), len(now.samples))
        out.rows.append(row)
        changes.update(version_changes(before.entry.versions, now.versions))
    cmp.judge(out, out.threshold, out.alpha)
    first = next(iter(earlier.values()))
    return SinceLast(first.recording, out, sorted(changes))
