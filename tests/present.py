"""Tests that cannot find what they run on (an engine, root for the test hosts, a headless
browser): skipped on a developer's machine, failed in CI. ``scripts/test.sh`` (what CI
runs) sets DISTLAB_REQUIRE_ENGINES=1, so that a broken install (a library that does not
import, Flink's environment that cannot be built, no Chromium, no root) turns the run red
instead of leaving it green with fewer tests."""

from __future__ import annotations

import importlib
import importlib.util
import os
from types import ModuleType

import pytest

ENV = "DISTLAB_REQUIRE_ENGINES"


def engines_required() -> bool:
    return os.environ.get(ENV, "").strip() not in ("", "0", "false", "no")


def missing(reason: str) -> None:
    """Skip this test (or module) because something it runs on is missing; fail it when
    required."""
    if engines_required():
        pytest.fail(
            f"{reason} ({ENV} is set: everything the tests run on must be present)", pytrace=False
        )
    pytest.skip(reason, allow_module_level=True)


def require_root(reason: str) -> None:
    """missing(reason) unless this process runs as root."""
    if os.geteuid() != 0:
        missing(reason)


def require_module(name: str) -> ModuleType:
    """``pytest.importorskip`` that fails instead when engines are required."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing(f"cannot import {name}: {exc}")
        raise  # not reached: missing() skips or fails


def has_module(name: str) -> bool:
    """For skipif marks: True when ``name`` imports; when engines are required a
    missing module is not skipped (the test runs and fails on its import)."""
    return engines_required() or importlib.util.find_spec(name) is not None


def require_hadoop() -> None:
    """Java and the pinned Hadoop jars (fetched if need be), or missing()."""
    from distlab import jvm

    try:
        jvm.java()
        jvm.classpath("hadoop")
    except Exception as exc:  # no Java, or the jars cannot be fetched
        missing(f"no Hadoop here: {exc}")
