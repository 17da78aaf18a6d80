"""The history store: every run's and bench's cells over time, in one SQLite file.

A results file says how one run went; the history says how a cell moved across runs, so
that an upgrade of an engine's library that made it slower shows as a step with the
version change beside it. SQLite from the standard library: nothing to install, one file
that many runs append to (its own locking), readable by anyone with ``sqlite3``.

Each recording (one ``distlab run``, one ``distlab bench ...``) is a row of ``recordings``
(when, which machine and its speed figure, which distlab); each of its cells a row of
``cells`` (engine, workload or bench, variant, the settings that make two cells
comparable, the repetitions in seconds and their median, the engine's library versions).
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as md
import json
import os
import sqlite3
import statistics
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from distlab.contracts import DistlabError

#: where ``distlab run`` writes its run folders by default; the history sits beside them
RESULTS_ROOT = Path("distlab-results")
FILE_NAME = "history.sqlite"
#: a history path for every command of this process tree (the test suite points it at a
#: temporary file, so that no test writes into the directory it runs from)
ENV_VAR = "DISTLAB_HISTORY"
#: what ``--history`` takes to record nothing
OFF = ("none", "off")

SCHEMA = """
CREATE TABLE IF NOT EXISTS recordings (
    id INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    source TEXT NOT NULL,
    machine TEXT NOT NULL,
    speed_s REAL,
    code_version TEXT NOT NULL,
    results_path TEXT
);
CREATE TABLE IF NOT EXISTS cells (
    recording_id INTEGER NOT NULL REFERENCES recordings(id),
    engine TEXT NOT NULL,
    workload TEXT NOT NULL,
    variant TEXT NOT NULL,
    settings TEXT NOT NULL,
    median_s REAL NOT NULL,
    samples TEXT NOT NULL,
    versions TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cells_by_key ON cells (engine, workload, variant);
"""


@dataclass
class CellEntry:
    """One cell of one recording: its repetitions (seconds, lower is better)."""

    engine: str
    workload: str
    variant: str
    #: what must match for two entries to be compared (size, workers, a bench's params)
    settings: str
    samples: list[float]
    #: the engine's libraries, distribution -> version
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def median_s(self) -> float:
        return statistics.median(self.samples)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.engine, self.workload, self.variant, self.settings)


@dataclass
class Recording:
    """What one command recorded: where and when it ran, and with which distlab."""

    #: "run" or "bench <name>"
    source: str
    machine: str
    code_version: str
    speed_s: float | None = None
    results_path: str | None = None
    recorded_at: str = field(
        default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    )
    #: the store's row id, once appended or loaded
    id: int | None = None


@dataclass
class Point:
    """A cell entry with the recording it came from: one point of a cell's series."""

    entry: CellEntry
    recording: Recording


def resolve(option: str | None) -> Path | None:
    """The history file a command writes to: ``--history PATH``, else $DISTLAB_HISTORY,
    else distlab-results/history.sqlite; None when either says ``none``."""
    chosen = option if option is not None else os.environ.get(ENV_VAR)
    if chosen is None:
        return RESULTS_ROOT / FILE_NAME
    if chosen.strip().lower() in OFF:
        return None
    path = Path(chosen)
    if path.is_dir():
        raise DistlabError(f"--history {path} is a directory; name the history's file")
    return path


def prepare(path: Path | None) -> Path | None:
    """Create the history file (and its tables) now, so that a path that cannot be
    written is one line before a run starts, not an error after it has measured."""
    if path is not None:
        with _connect(path, create=True):
            pass
    return path


def machine_identity(host: str | None, cpus: int | None) -> str:
    """Which machine: entries of one identity are comparable (same host, same cores)."""
    return f"{host or '?'}/{cpus or '?'} cpus"


def code_version() -> str:
    """distlab's version, with the git commit of its source when it runs from a checkout
    (an editable install); one quick ``git`` call, nothing when git or the checkout is
    missing."""
    try:
        version = md.version("distlab")
    except md.PackageNotFoundError:
        version = "?"
    source = Path(__file__).resolve().parents[1]
    if "site-packages" in source.parts:  # an installed wheel: no checkout to ask
        return version
    try:
        done = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "--short=10", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return version
    commit = done.stdout.strip()
    return f"{version}+g{commit}" if done.returncode == 0 and commit else version


@contextmanager
def _connect(path: Path, create: bool) -> Iterator[sqlite3.Connection]:
    """A connection whose errors are one line (DistlabError): a missing file when only
    reading, a file that is not SQLite, a directory that cannot be written."""
    if not create and not path.is_file():
        raise DistlabError(f"no history at {path}")
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        # a concurrent run holding the write lock is waited for, not an error
        with closing(sqlite3.connect(path, timeout=30)) as conn:
            with conn:  # one transaction: a recording is whole or absent
                if create:
                    conn.executescript(SCHEMA)
                else:
                    _check_tables(conn, path)
                yield conn
    except sqlite3.DatabaseError as exc:
        raise DistlabError(f"{path} is not a readable distlab history: {exc}") from None
    except OSError as exc:
        raise DistlabError(
            f"cannot use the history {path}: {exc.strerror or exc.__class__.__name__}"
        ) from None


def _check_tables(conn: sqlite3.Connection, path: Path) -> None:
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not {"recordings", "cells"} <= names:
        raise DistlabError(f"{path} is not a distlab history (no recordings or cells table)")


def append(path: Path, recording: Recording, entries: list[CellEntry]) -> int:
    """Append one recording and its cells; returns the recording's id. Entries without
    repetitions are left out (a failed cell has no time to follow)."""
    kept = [e for e in entries if e.samples]
    with _connect(path, create=True) as conn:
        cursor = conn.execute(
            "INSERT INTO recordings (recorded_at, source, machine, speed_s, code_version, "
            "results_path) VALUES (?, ?, ?, ?, ?, ?)",
            (
                recording.recorded_at,
                recording.source,
                recording.machine,
                recording.speed_s,
                recording.code_version,
                recording.results_path,
            ),
        )
        recording.id = int(cursor.lastrowid or 0)
        conn.executemany(
            "INSERT INTO cells (recording_id, engine, workload, variant, settings, median_s, "
            "samples, versions) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    recording.id,
                    e.engine,
                    e.workload,
                    e.variant,
                    e.settings,
                    e.median_s,
                    json.dumps([float(x) for x in e.samples]),
                    json.dumps(e.versions, sort_keys=True),
                )
                for e in kept
            ],
        )
    return recording.id


def load(
    path: Path,
    engine: str | None = None,
    workload: str | None = None,
    variant: str | None = None,
) -> list[Point]:
    """Every stored cell entry matching the filters, oldest recording first."""
    where, args = [], []
    for column, value in (("engine", engine), ("workload", workload), ("variant", variant)):
        if value is not None:
            where.append(f"c.{column} = ?")
            args.append(value)
    query = (
        "SELECT r.id, r.recorded_at, r.source, r.machine, r.speed_s, r.code_version, "
        "r.results_path, c.engine, c.workload, c.variant, c.settings, c.samples, c.versions "
        "FROM cells c JOIN recordings r ON r.id = c.recording_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY r.recorded_at, r.id, c.rowid"
    )
    recordings: dict[int, Recording] = {}
    points = []
    with _connect(path, create=False) as conn:
        for row in conn.execute(query, args):
            rid = row[0]
            if rid not in recordings:
                recordings[rid] = Recording(
                    source=row[2],
                    machine=row[3],
                    code_version=row[5],
                    speed_s=row[4],
                    results_path=row[6],
                    recorded_at=row[1],
                    id=rid,
                )
            entry = CellEntry(
                engine=row[7],
                workload=row[8],
                variant=row[9],
                settings=row[10],
                samples=json.loads(row[11]),
                versions=json.loads(row[12]),
            )
            points.append(Point(entry, recordings[rid]))
    return points
