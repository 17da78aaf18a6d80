"""Every results file the test suite writes is checked against the shipped JSON Schema
of results.json when the session ends: one that does not validate fails the run, naming
the file and what is wrong. Every run and bench a test starts appends to a history in
the session's temporary directory, never to distlab-results/ where the tests run.

The temporary files of every process the tests start go in one folder of the session's
own ($TMPDIR), removed when the session ends: the tests kill workers and engine
processes on purpose, and a killed process cannot remove what it made (multiprocessing's
pymp-* folders, a queue engine's folder)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# This process keeps the system's temporary directory: it exits normally and removes its
# own files at exit (multiprocessing's among them, after the session's end). Read now, so
# that setting $TMPDIR below does not move them.
tempfile.gettempdir()
# short: Ray's socket paths are built under it and must stay under 107 bytes
SESSION_TMP = tempfile.mkdtemp(prefix="dt-")
os.environ["TMPDIR"] = SESSION_TMP


@pytest.fixture(scope="session", autouse=True)
def _history_in_tmp(tmp_path_factory: pytest.TempPathFactory):
    """$DISTLAB_HISTORY for the session (the commands run as subprocesses inherit it)."""
    before = os.environ.get("DISTLAB_HISTORY")
    os.environ["DISTLAB_HISTORY"] = str(tmp_path_factory.mktemp("history") / "history.sqlite")
    yield
    if before is None:
        os.environ.pop("DISTLAB_HISTORY", None)
    else:
        os.environ["DISTLAB_HISTORY"] = before


def _check_results_files(root: Path) -> tuple[int, list[str]]:
    """How many current-version results files ``root`` holds, and what is wrong with the
    ones that do not validate."""
    import jsonschema

    from distlab.results import VERSION
    from distlab.results.codec import SCHEMA_PATH

    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    problems, checked = [], 0
    for path in sorted(root.rglob("results.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            problems.append(f"{path}: not JSON ({exc})")
            continue
        if isinstance(data, dict) and data.get("version") != VERSION:
            continue  # an older file a test copied on purpose: read through the upgrade
        checked += 1
        error = jsonschema.exceptions.best_match(validator.iter_errors(data))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(top)"
            problems.append(f"{path}: at {where}: {error.message}")
    return checked, problems


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    try:
        _validate_results(session)
    finally:
        shutil.rmtree(SESSION_TMP, ignore_errors=True)


def _validate_results(session: pytest.Session) -> None:
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or getattr(session.config, "workerinput", None) is not None:
        return
    try:
        root = factory.getbasetemp()
    except (OSError, ValueError):
        return
    checked, problems = _check_results_files(root)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and checked and not problems:
        reporter.write_line(f"\n{checked} results.json files validated against results.schema.json")
    if problems:
        text = "results.json files that do not match results.schema.json:\n  " + "\n  ".join(
            problems
        )
        if reporter is not None:
            reporter.write_line(text, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
