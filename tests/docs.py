"""Results documents built by hand in the tests: written as JSON objects the way version 2
of the file held them (a cell's work_fraction inside its metrics), read through the
results codec (upgrade and strict decoding), so that the report gets the typed model."""

from __future__ import annotations

import copy
from typing import Any

from distlab import results


def document(cells: list[dict[str, Any]] = (), settings: dict | None = None, **more) -> results.Results:
    """A results document of ``cells`` (and any other top-level parts, ``engines=...``)."""
    data = {
        "schema": results.SCHEMA,
        "version": 2,
        "created": "2026-01-01T00:00:00+00:00",
        "command": ["distlab", "run"],
        "environment": {},
        "settings": settings if settings is not None else {"size": "default"},
        "engines": {},
        "references": {},
        "cells": list(cells),
        **more,
    }
    return results.from_dict(copy.deepcopy(data))


def cell(data: dict[str, Any]) -> results.CellRecord:
    """One cell written as version 2 wrote it, as the typed record."""
    return document([data]).cells[0]
