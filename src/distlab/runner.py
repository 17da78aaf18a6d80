"""The matrix: engines x workloads x variants x repetitions, each engine in its own process.

One failing cell never aborts the matrix: errors are recorded per cell. The parent
validates everything it can before starting anything (unknown names, sizes, unreachable
addresses fail in seconds with one line), follows each engine process's event file for
progress, and on timeout or Ctrl-C stops the engine process and everything under it by
PID.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from distlab import registry, results
from distlab.contracts import DistlabError
from distlab.procs import port_open, split_host_port, stop_pids
from distlab.workloads import WORKLOADS, workload_class
from distlab.workloads.base import SIZES

# Engines whose address is not host:port (e.g. a MapReduce runner name) skip the TCP check.
_NO_TCP_CHECK = {"mapreduce", "scoop"}


@dataclass
class RunSpec:
    engines: list[str]
    workloads: list[str]
    size: str = "default"
    repeats: int = 3
    warmup: int = 1
    workers: int | None = None
    addresses: dict[str, str] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    kill_worker: bool = False
    cell_timeout: float = 900.0


def default_engines() -> list[str]:
    return [n for n, e in registry.ENGINES.items() if e.installed()]


def validate(spec: RunSpec) -> None:
    """Fail fast, with one line, on anything that cannot work."""
    for name in spec.engines:
        registry.entry(name)
    for name in spec.workloads:
        workload_class(name)
    for name, params in spec.params.items():
        if name not in spec.workloads:
            raise DistlabError(f"--param given for {name!r}, which is not among --workloads")
        unknown = (
            set(params)
            - set(workload_class(name).sizes["default"])
            - set(workload_class(name).extra_params)
        )
        if unknown:
            raise DistlabError(f"{name} has no parameter {sorted(unknown)[0]!r}")
    if spec.size not in SIZES:
        raise DistlabError(f"unknown size {spec.size!r}; choose from: {', '.join(SIZES)}")
    if spec.repeats < 1 or spec.warmup < 0:
        raise DistlabError("--repeats must be >= 1 and --warmup >= 0")
    if spec.workers is not None and spec.workers < 1:
        raise DistlabError("--workers must be >= 1")
    for name, address in spec.addresses.items():
        registry.entry(name)
        if name not in spec.engines:
            raise DistlabError(f"--address given for {name!r}, which is not among --engines")
        if name in _NO_TCP_CHECK:
            continue
        check_reachable(name, address)


def check_reachable(name: str, address: str, timeout: float = 3.0) -> None:
    try:
        host, port = split_host_port(address)
    except ValueError:
        raise DistlabError(f"--address {name}={address!r}: expected host:port") from None
    if not port_open(host, port, timeout):
        raise DistlabError(f"cannot reach {name} at {address} (nothing answers on {host}:{port})")


def interpreter_for(name: str) -> str:
    """The Python that runs an engine's cells (Flink has its own environment)."""
    hook = registry.entry(name).interpreter
    if not hook:
        return sys.executable
    module, func = hook.split(":")
    return getattr(importlib.import_module(module), func)()


class EngineProcess:
    """One engine's cell process, followed through its events file."""

    def __init__(self, name: str, child_spec: dict, workdir: Path, python: str):
        self.name = name
        self.spec_path = workdir / f"{name}.spec.json"
        self.events_path = workdir / f"{name}.events.jsonl"
        self.log_path = workdir / f"{name}.log"
        self.spec_path.write_text(json.dumps(child_spec))
        self.events_path.write_text("")
        self._offset = 0
        self._known: set[int] = set()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [python, "-m", "distlab.cell", str(self.spec_path), str(self.events_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # our Ctrl-C handling decides when it stops
                env={**os.environ, "PYTHONUNBUFFERED": "1", "DISTLAB_PARENT_PID": str(os.getpid())},
            )

    def new_events(self) -> list[dict]:
        self._remember_tree()
        with open(self.events_path, encoding="utf-8") as f:
            f.seek(self._offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind("\n") + 1]
        self._offset += len(complete.encode("utf-8"))
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def _remember_tree(self) -> None:
        # Processes whose parent dies are re-parented; remember PIDs while we can see them.
        try:
            p = psutil.Process(self.proc.pid)
            self._known |= {c.pid for c in p.children(recursive=True)}
        except psutil.Error:
            pass

    def stop(self, grace: float = 20.0) -> None:
        """Ask the engine process to close its engine, then stop whatever is left by PID."""
        self._remember_tree()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        stop_pids([self.proc.pid, *self._known], grace=5.0)


ProgressFn = Callable[[dict], None]


def run(spec: RunSpec, out_dir: Path, progress: ProgressFn = lambda e: None) -> dict:
    """Run the matrix; write and return the results document."""
    validate(spec)
    settings = {k: v for k, v in asdict(spec).items() if k not in ("engines", "workloads")}
    doc = results.new(sys.argv, {**settings, "engines": spec.engines, "workloads": spec.workloads})
    out_dir.mkdir(parents=True, exist_ok=True)
    logs = out_dir / "logs"
    logs.mkdir(exist_ok=True)
    path = out_dir / "results.json"
    base = {
        "workloads": spec.workloads,
        "size": spec.size,
        "repeats": spec.repeats,
        "warmup": spec.warmup,
        "params": spec.params,
        "kill_worker": spec.kill_worker,
    }
    with tempfile.TemporaryDirectory(prefix="distlab-") as tmp:
        work = Path(tmp)
        for name in ["reference", *spec.engines]:
            if name != "reference" and not registry.entry(name).installed():
                hint = registry.entry(name).install_hint
                doc["engines"][name] = {"status": "unavailable", "error": f"not installed: {hint}"}
                for w in spec.workloads:
                    _add_cell(
                        doc,
                        {
                            "engine": name,
                            "workload": w,
                            "variant": "-",
                            "status": "unsupported",
                            "reason": f"not installed ({hint})",
                        },
                    )
                progress({"event": "engine", "engine": name, "status": "unavailable"})
                continue
            child = {
                **base,
                "engine": name,
                "address": spec.addresses.get(name),
                "workers": spec.workers,
                "options": spec.options.get(name, {}),
            }
            try:
                python = sys.executable if name == "reference" else interpreter_for(name)
            except DistlabError as exc:
                doc["engines"][name] = {"status": "failed", "error": str(exc)}
                continue
            _follow(EngineProcess(name, child, work, python), doc, spec, progress, logs)
            results.save(_finish(doc), path)
    return _finish(doc)


def _follow(ep: EngineProcess, doc: dict, spec: RunSpec, progress: ProgressFn, logs: Path) -> None:
    last_event = time.monotonic()
    seen_cells = set()
    try:
        while True:
            events = ep.new_events()
            for ev in events:
                last_event = time.monotonic()
                _absorb(ev, ep.name, doc, seen_cells)
                progress(ev)
            if ep.proc.poll() is not None and not events:
                events = ep.new_events()
                for ev in events:
                    _absorb(ev, ep.name, doc, seen_cells)
                    progress(ev)
                break
            if time.monotonic() - last_event > spec.cell_timeout:
                doc["engines"].setdefault(ep.name, {})["error"] = (
                    f"no progress for {spec.cell_timeout:.0f}s: stopped"
                )
                ep.stop()
                break
            time.sleep(0.05)
    except KeyboardInterrupt:
        ep.stop()
        raise
    finally:
        ep.stop(grace=20.0)
        try:
            (logs / ep.log_path.name).write_bytes(ep.log_path.read_bytes())
        except OSError:
            pass
    if ep.proc.returncode not in (0, None) and ep.name not in doc["engines"]:
        doc["engines"][ep.name] = {
            "status": "failed",
            "error": f"engine process exited with {ep.proc.returncode}",
        }
    # cells that never reported (crash, timeout) are failed, not silently missing
    if ep.name != "reference":
        for w in spec.workloads:
            if not any(c["engine"] == ep.name and c["workload"] == w for c in doc["cells"]):
                err = doc["engines"].get(ep.name, {}).get("error") or "engine process ended early"
                _add_cell(
                    doc,
                    {
                        "engine": ep.name,
                        "workload": w,
                        "variant": "-",
                        "status": "failed",
                        "verified": False,
                        "error": err,
                    },
                )


def _absorb(ev: dict, name: str, doc: dict, seen: set) -> None:
    kind = ev.get("event")
    if kind == "reference":
        doc["references"][ev["workload"]] = ev.get("references") or {"error": ev.get("error")}
    elif kind == "engine":
        doc["engines"][name] = {k: v for k, v in ev.items() if k not in ("event", "engine")}
    elif kind == "closed":
        doc["engines"].setdefault(name, {}).update(
            {k: v for k, v in ev.items() if k in ("close_s", "error")}
        )
    elif kind == "cell":
        cell = {k: v for k, v in ev.items() if k != "event"}
        _add_cell(doc, cell)
    elif kind == "fatal":
        doc["engines"].setdefault(name, {}).update(status="failed", error=ev.get("error"))


def _add_cell(doc: dict, cell: dict) -> None:
    cell.setdefault("verified", False)
    for key in ("wall_s", "speedup", "per_task_overhead_ms", "peak_rss_mb"):
        cell.setdefault(key, None)
    doc["cells"].append(cell)


def _finish(doc: dict) -> dict:
    """Derived figures: speed-up against the sequential reference, overhead per task."""
    for cell in doc["cells"]:
        ref = doc["references"].get(cell["workload"], {})
        seq = (ref.get("sequential") or {}).get("wall", {}).get("median")
        wall = cell.get("wall_s")
        if not (seq and wall):
            continue
        metrics = cell.get("metrics") or {}
        share = metrics.get("work_fraction", 1.0)
        if share is None:  # paced runs (request/response): no speed-up to speak of
            continue
        cell["speedup"] = seq * share / wall
        # the work itself: what the workload says it is (e.g. its sleeps), else the reference
        work = metrics.get("compute_s", seq * share)
        numpy_ref = (ref.get("numpy") or {}).get("wall", {}).get("median")
        if numpy_ref:
            cell["speedup_vs_numpy"] = numpy_ref * share / wall
        workers = (doc["engines"].get(cell["engine"], {}).get("describe") or {}).get("workers")
        if cell.get("n_tasks") and workers:
            # worker-time per task beyond the work itself
            cell["per_task_overhead_ms"] = (wall * workers - work) / cell["n_tasks"] * 1e3
    return doc


def known_workloads() -> list[str]:
    return list(WORKLOADS)
