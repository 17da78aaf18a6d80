"""Parsing the command line's list options (shared by `distlab run` and `distlab bench`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from distlab.contracts import DistlabError


def split(text: str | None) -> list[str]:
    return [x.strip() for x in (text or "").split(",") if x.strip()]


def pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for v in values or []:
        name, sep, rest = v.partition("=")
        if not sep or not name or not rest:
            raise DistlabError(f"{flag} expects ENGINE=VALUE, got {v!r}")
        out[name.strip()] = rest.strip()
    return out


def params_of(values: list[str] | None, flag: str = "--param", what: str = "WORKLOAD") -> dict:
    """--param WORKLOAD.KEY=VALUE, --option ENGINE.KEY=VALUE (VALUE read as JSON, else
    kept as a string)."""
    out: dict[str, dict] = {}
    for v in values or []:
        target, sep, raw = v.partition("=")
        workload, dot, key = target.partition(".")
        if not (sep and dot and workload and key):
            raise DistlabError(f"{flag} expects {what}.KEY=VALUE, got {v!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(workload.strip(), {})[key.strip()] = value
    return out


#: --rtt, one type wherever it is taken (run, cluster up, bench rtt): text such as 2ms
Rtt = Annotated[str | None, typer.Option(help="Round-trip time between hosts, e.g. 2ms.")]


def parse_ms(text: str | None, flag: str) -> float:
    """'2ms', '0.5 ms', '2' -> milliseconds."""
    if not text:
        return 0.0
    raw = text.strip().lower().removesuffix("ms").strip()
    try:
        value = float(raw)
    except ValueError:
        raise DistlabError(f"{flag} must be a duration like 2ms, not {text!r}") from None
    if value < 0:
        raise DistlabError(f"{flag} must be >= 0")
    return value


def parse_pct(text: str | None, flag: str) -> float:
    if not text:
        return 0.0
    try:
        return float(text.strip().removesuffix("%"))
    except ValueError:
        raise DistlabError(f"{flag} must be a percentage like 0.1%, not {text!r}") from None


#: `--history` of `distlab run`, `distlab report`, every bench and `distlab history`
History = Annotated[
    str | None,
    typer.Option(
        "--history",
        help="History file (SQLite) each run and bench appends its cells to (default: "
        "$DISTLAB_HISTORY, else distlab-results/history.sqlite); none: record nothing.",
    ),
]


def worker_counts(text: str | None) -> list[int]:
    """``--workers 2`` or ``--workers 1,2,4``."""
    try:
        return [int(x) for x in split(text)]
    except ValueError:
        raise DistlabError(
            f"--workers must be a count or counts like 1,2,4, not {text!r}"
        ) from None
