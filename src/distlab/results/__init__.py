"""The versioned results file: the only thing measuring and reporting share.

One typed model (model.py: ``Results``, its ``CellRecord`` cells, engines, references,
plan, timing, scaling), one encoding and one strict decoding (codec.py), and the upgrade
of older files (upgrade.py): ``load`` reads a file of any version up to ``VERSION`` into
the current model. The file's JSON Schema, generated from the model, ships beside it
(results.schema.json; ``python -m distlab.results.codec`` regenerates it).

Environment and versions are stored once per file, not per cell.
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
from distlab.results import codec
from distlab.results.codec import DecodeError, decode, encode, jsonable, to_plain
from distlab.results.model import (
    MEMORY_MEASURE,
    SCHEMA,
    VERSION,
    BenchDocument,
    CellRecord,
    Deployment,
    EngineRecord,
    Environment,
    Interruption,
    LeftOut,
    Plan,
    Reference,
    Results,
    Scaling,
    Settings,
    Speed,
    Timing,
    WorkloadReferences,
)
from distlab.results.upgrade import upgrade

__all__ = [
    "MEMORY_MEASURE", "SCHEMA", "VERSION", "BenchDocument", "CellRecord", "Deployment", "EngineRecord",
    "Environment", "Interruption", "LeftOut", "Plan", "Reference", "Results", "Scaling",
    "Settings", "Speed", "Timing", "WorkloadReferences", "encode", "environment",
    "from_dict", "jsonable", "library_versions", "load", "load_bench", "new", "save",
    "save_bench", "to_plain",
    "writable_dir",
]  # fmt: skip

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


def environment() -> Environment:
    return Environment(
        host=socket.gethostname(),
        platform=platform.platform(),
        machine=platform.machine(),
        cpus=os.cpu_count(),
        memory_gb=round(psutil.virtual_memory().total / 2**30, 1),
        python=sys.version.split()[0],
        implementation=platform.python_implementation(),
        libraries=library_versions(),
    )


def new(command: list[str], settings: Settings | dict[str, Any] | None = None) -> Results:
    """A new results document of this machine (``settings``: what the run was asked)."""
    if not isinstance(settings, Settings):
        settings = decode({"settings": settings or {}}).settings
    return Results(
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        command=list(command),
        environment=environment(),
        settings=settings,
    )


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


def save(doc: Results, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(encode(doc))
    tmp.replace(path)
    return path


def from_dict(data: dict[str, Any], where: str = "the document") -> Results:
    """A results document given as JSON objects (any version), upgraded and checked."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise DistlabError(f"{where} is not a distlab results file")
    version = data.get("version", 1)
    if not isinstance(version, int) or version > VERSION:
        raise DistlabError(
            f"{where} has results version {version!r}; this distlab reads <= {VERSION}"
        )
    try:
        return decode(upgrade(data))
    except DecodeError as exc:
        raise DistlabError(f"{where} is not a readable distlab results file: {exc}") from None


def load(path: str | Path) -> Results:
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
    return from_dict(data, str(p))


def save_bench(doc: BenchDocument, path: Path) -> Path:
    """Write a bench file (``bench-<benchmark>.json``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_plain(doc), indent=1, default=jsonable))
    return path


def load_bench(path: Path) -> BenchDocument:
    """Read a bench file; one line (DistlabError) when it cannot be read or understood."""
    try:
        data = json.loads(path.read_text())
        return codec.convert(data, BenchDocument)
    except (OSError, ValueError) as exc:  # DecodeError is a ValueError
        raise DistlabError(f"{path} is not a readable bench file: {exc}") from None
