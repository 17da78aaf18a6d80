"""Ctrl-C during `distlab run`: everything started is stopped, the cells that finished are
written (results.json and report.html), and the command says so and exits 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import psutil

from commands import DISTLAB


def test_ctrl_c_keeps_what_finished_and_stops_everything(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [*DISTLAB, "run", "--engines", "local,dask", "--workloads", "squares,jobs",
         "--size", "tiny", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "200"}, start_new_session=True,
    )  # fmt: skip
    seen: set[int] = set()
    lines: list[str] = []
    try:
        # not a terminal: one line per finished cell; wait for a dask cell to finish
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            seen |= {p.pid for p in psutil.Process(proc.pid).children(recursive=True)}
            if " dask " in line and "ok" in line:
                break
        assert any(" dask " in x for x in lines), "".join(lines)
        seen |= {p.pid for p in psutil.Process(proc.pid).children(recursive=True)}
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        rest, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    stdout = "".join(lines) + rest
    assert proc.returncode == 130, stdout + err
    assert "Traceback" not in stdout + err
    assert "interrupted:" in stdout
    doc = json.loads((out / "results.json").read_text())
    assert doc["interrupted"]["cells_finished"] == len(doc["cells"])
    engines = {c["engine"] for c in doc["cells"]}
    assert engines == {"local", "dask"}  # the engine running at Ctrl-C kept its cells
    assert all(c["status"] in ("ok", "unsupported") for c in doc["cells"])
    assert (out / "report.html").exists()
    assert "Interrupted (Ctrl-C)" in (out / "report.html").read_text()
    time.sleep(1)
    alive = [p for p in seen if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert not alive, [" ".join(psutil.Process(p).cmdline()) for p in alive]
