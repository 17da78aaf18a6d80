"""The layer order of ARCHITECTURE.md, as `lint-imports` enforces it (pyproject.toml)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path, src: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(src)},
    )


def test_the_layers_hold():
    res = lint_imports(ROOT, ROOT / "src")
    assert res.returncode == 0, res.stdout[-3000:]
    assert "0 broken" in res.stdout


def test_one_upward_import_breaks_them_even_inside_a_function(tmp_path):
    """The check is real: a copy of the package with one upward import (the report
    reading the run's data model, inside a function, where it used to hide) fails."""
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    terminal = tmp_path / "src" / "distlab" / "report" / "terminal.py"
    terminal.write_text(
        terminal.read_text()
        + "\n\ndef _upward():\n    from distlab.run import model\n\n    return model\n"
    )
    res = lint_imports(tmp_path, tmp_path / "src")
    assert res.returncode != 0
    assert "distlab.report is not allowed to import distlab.run" in res.stdout
    assert "distlab.report.terminal -> distlab.run.model" in res.stdout
