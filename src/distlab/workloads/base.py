"""The workload contract: parameters by size, a golden answer, a run on an engine, a check.

A workload declares its shape (tasks / batch / streams) and the engine capabilities it
needs; the runner crosses that with each engine's declared capabilities and marks the
rest unsupported with the reason. Nothing is emulated to fill a cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from distlab.contracts import TASKS, DistlabError, Engine

SIZES = ("tiny", "default", "seed")


@dataclass
class RunOutput:
    """What one run of a workload on an engine produced."""

    result: Any
    #: tasks (or records) the run handled: the denominator of per-task figures
    n_tasks: int = 0
    #: workload-specific figures shown in reports (batch size used, latencies, ...)
    metrics: dict[str, Any] = field(default_factory=dict)
    #: tasks whose result never came back (fault injection), and results seen twice
    lost: int = 0
    duplicates: int = 0
    #: share of the sequential reference's work this run did; None when no speed-up
    #: applies (a paced loop, a cached re-run, a refused request)
    work_fraction: float | None = 1.0
    #: seconds of the work itself (sleeps, fits) when the workload knows it: the base
    #: of the per-task overhead figure (else the sequential reference's time)
    compute_s: float | None = None
    #: the work's own wall time, when the workload times it itself (only the engine
    #: calls, not its calibration or bookkeeping); None: the whole run() is the work
    wall_s: float | None = None


def gather_counting_lost(futures: list) -> tuple[list[Any], int]:
    """Results in order, with None for each task whose result never came (e.g. its worker
    was killed and the engine did not deliver it again), and how many those were."""
    results, lost = [], 0
    for f in futures:
        try:
            results.append(f.result())
        except Exception:
            results.append(None)
            lost += 1
    return results, lost


class Workload:
    name: ClassVar[str] = "?"
    description: ClassVar[str] = ""
    shape: ClassVar[str] = TASKS
    #: engine capability attributes that must be true, e.g. ("supports_resources",)
    needs: ClassVar[tuple[str, ...]] = ()
    #: size name -> parameters; every workload has tiny (tests), default and seed (original)
    sizes: ClassVar[dict[str, dict[str, Any]]] = {}
    #: parameters accepted besides those the sizes set (e.g. failure injection)
    extra_params: ClassVar[tuple[str, ...]] = ()
    #: repetitions of the sequential reference (sleep-bound references need only one)
    reference_repeats: ClassVar[int] = 3

    def __init__(self, size: str = "default", **overrides: Any):
        if size not in self.sizes:
            raise DistlabError(
                f"unknown size {size!r} for {self.name}; choose from: {', '.join(self.sizes)}"
            )
        self.size = size
        self.params: dict[str, Any] = {**self.sizes[size], **overrides}
        self._golden: Any = None
        #: live monitoring: the runner sets this to forward step events to the terminal
        #: (call it as self.monitor(step="capture-1", state="running", t=...))
        self.monitor: Any = lambda **event: None

    # -- what the runner asks ------------------------------------------------------------
    @classmethod
    def unsupported_reason(cls, engine_cls: type[Engine]) -> str | None:
        """Why this workload cannot run on that engine (None: it can). Decided from
        declared shapes and capabilities only, before anything is built or imported."""
        if cls.shape not in engine_cls.shapes:
            return f"{engine_cls.name} does not run {cls.shape} workloads"
        for cap in cls.needs:
            if not engine_cls.capabilities().get(cap, False):
                return f"{engine_cls.name} lacks {cap.removeprefix('supports_')}"
        return None

    @classmethod
    def parameter_names(cls) -> set[str]:
        """Every parameter --param may set for this workload."""
        return set(cls.sizes["default"]) | set(cls.extra_params)

    def variants(self, engine: Engine) -> list[str]:
        return ["default"]

    def references(self) -> dict[str, Any]:
        """Named single-process reference computations (callables returning a result).

        'sequential' is the seed's own loop and the base of every speed-up figure.
        """
        return {"sequential": self.reference}

    def reference(self) -> Any:
        raise NotImplementedError

    def golden(self) -> Any:
        """The trusted answer, computed once by the sequential reference."""
        if self._golden is None:
            self._golden = self.reference()
        return self._golden

    def run(self, engine: Engine, variant: str) -> RunOutput:
        raise NotImplementedError

    def verify(self, output: RunOutput, variant: str) -> tuple[bool, str]:
        """Compare a run of ``variant`` (or of a named reference) with the golden answer,
        with explicit normalisation and tolerance."""
        ok = output.result == self.golden()
        return ok, "equal to the reference" if ok else "differs from the reference"
