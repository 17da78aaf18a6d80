"""Running the `distlab` command as a user does: a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

DISTLAB = [sys.executable, "-m", "distlab.cli"]


def distlab(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*DISTLAB, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )
