"""Parsing the command line's list options (shared by `distlab run` and `distlab bench`)."""

from __future__ import annotations

import json

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
