"""The workload contract: parameters by size, a golden answer, a run on an engine, a check.

A workload declares its shape (tasks / batch / streams) and the engine capabilities it
needs; the runner crosses that with each engine's declared capabilities and marks the
rest unsupported with the reason. Nothing is emulated to fill a cell.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any, ClassVar

import numpy as np

from distlab.contracts import TASKS, DistlabError, Engine, TaskLost

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
    """Results in order, with None for each task the engine lost (its worker was killed
    and the engine did not deliver it again: :class:`TaskLost`), and how many those were.
    Any other exception is the task's own failure and is raised, as its own type with its
    remote traceback: the cell fails with it (an ImportError on a worker is not a loss)."""
    results, lost = [], 0
    for f in futures:
        try:
            results.append(f.result())
        except TaskLost:
            results.append(None)
            lost += 1
    return results, lost


# -- parameters ----------------------------------------------------------------------------
_KIND_NAMES = {int: "a whole number", float: "a number", str: "a string", bool: "true or false"}
_PLURALS = {int: "whole numbers", float: "numbers", str: "strings", bool: "booleans"}


@dataclass(frozen=True)
class Param:
    """What one workload parameter accepts: checked before anything starts.

    ``kind`` is int, float (ints accepted), str, bool, list (``item`` is then the kind of
    each element, checked against the same bounds) or dict; ``minimum``/``maximum`` bound
    numbers; ``choices`` lists the allowed values; ``optional`` allows None."""

    kind: type
    minimum: float | None = None
    #: a strict lower bound (e.g. 0 for a positive rate)
    above: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    optional: bool = False
    item: type | None = None
    #: for a list: at least this many elements; exactly this many
    min_items: int = 0
    length: int | None = None

    def describe(self) -> str:
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind is list:
            text = f"a list of {_PLURALS[self.item or float]}"
            if self.length is not None:
                text = f"a list of {self.length} {_PLURALS[self.item or float]}"
            elif self.min_items:
                text += f" (at least {self.min_items})"
        elif self.kind is dict:
            text = "a JSON object"
        else:
            text = _KIND_NAMES[self.kind]
        if self.minimum is not None and self.maximum is not None:
            text += f" in [{self.minimum:g}, {self.maximum:g}]"
        elif self.minimum is not None:
            text += f" >= {self.minimum:g}"
        elif self.above is not None:
            text += f" > {self.above:g}"
        elif self.maximum is not None:
            text += f" <= {self.maximum:g}"
        return text + (" or null" if self.optional else "")

    def check(self, where: str, value: Any) -> None:
        """Raise a one-line DistlabError unless ``value`` is acceptable."""
        if not self._ok(value):
            raise DistlabError(f"{where} must be {self.describe()} (got {value!r})")

    def _ok(self, value: Any) -> bool:
        if value is None:
            return self.optional
        if self.choices is not None:
            return value in self.choices
        if self.kind is list:
            if not isinstance(value, list | tuple) or len(value) < self.min_items:
                return False
            if self.length is not None and len(value) != self.length:
                return False
            return all(self._scalar_ok(self.item or float, v) for v in value)
        if self.kind is dict:
            return isinstance(value, dict)
        return self._scalar_ok(self.kind, value)

    def _scalar_ok(self, kind: type, value: Any) -> bool:
        if isinstance(value, bool) and kind is not bool:  # JSON true is no number
            return False
        if kind is float:
            if not isinstance(value, int | float) or value != value:  # NaN
                return False
        elif not isinstance(value, kind):
            return False
        if kind in (int, float):
            if self.minimum is not None and value < self.minimum:
                return False
            if self.above is not None and value <= self.above:
                return False
            if self.maximum is not None and value > self.maximum:
                return False
        return True


# -- answer records ------------------------------------------------------------------------
#: results with at most this many items (and this much JSON text) are stored whole in
#: the cell's answer record
SMALL_ANSWER = 20
SMALL_ANSWER_CHARS = 4000
#: how many values from each end a large answer's record keeps
ANSWER_SAMPLES = 3


def canonical(obj: Any) -> Any:
    """A JSON-ready form of a result with one spelling per value: mappings become lists
    of [key, value] pairs sorted by their key's JSON text (keys may be tuples), sets are
    sorted, tuples and arrays become lists, NumPy scalars Python numbers."""
    if isinstance(obj, dict):
        pairs = [[canonical(k), canonical(v)] for k, v in obj.items()]
        return sorted(pairs, key=lambda kv: json.dumps(kv[0], sort_keys=True))
    if isinstance(obj, set | frozenset):
        return sorted((canonical(v) for v in obj), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(obj, list | tuple):
        return [canonical(v) for v in obj]
    if hasattr(obj, "tolist"):  # NumPy arrays and scalars
        return canonical(obj.tolist())
    if is_dataclass(obj) and not isinstance(obj, type):
        return canonical(asdict(obj))
    return obj


def answer_record(result: Any) -> dict[str, Any]:
    """What a cell records of the answer it verified, so that anyone can re-check it from
    the results file alone: the value itself when it is small (at most SMALL_ANSWER
    items and SMALL_ANSWER_CHARS of JSON), else its length, a few values from each end
    (items of a list; [key, value] pairs of a mapping), always with a checksum.

    The checksum is the sha256 of the canonical JSON text (:func:`canonical`, then
    ``json.dumps(..., sort_keys=True, separators=(",", ":"))``); a NumPy float array is
    checksummed over its float64 little-endian bytes instead (``checksum_of`` says which).
    """
    if isinstance(result, np.ndarray) and result.dtype.kind == "f":
        data = np.ascontiguousarray(result, dtype="<f8")
        record: dict[str, Any] = {
            "length": int(data.size),
            "checksum": "sha256:" + hashlib.sha256(data.tobytes()).hexdigest(),
            "checksum_of": "float64 little-endian bytes",
        }
        if data.size <= SMALL_ANSWER:
            record["value"] = data.tolist()
        else:
            record["first"] = data[:ANSWER_SAMPLES].tolist()
            record["last"] = data[-ANSWER_SAMPLES:].tolist()
        return record
    value = canonical(result)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    record = {
        "checksum": "sha256:" + hashlib.sha256(text.encode()).hexdigest(),
        "checksum_of": "canonical JSON",
    }
    small = len(text) <= SMALL_ANSWER_CHARS
    if isinstance(value, list):
        record["length"] = len(value)
        if small and len(value) <= SMALL_ANSWER:
            record["value"] = value
        else:
            record["first"] = value[:ANSWER_SAMPLES]
            record["last"] = value[-ANSWER_SAMPLES:]
    elif small:
        record["value"] = value
    else:
        record["chars"] = len(text)
    return record


class Workload:
    name: ClassVar[str] = "?"
    description: ClassVar[str] = ""
    shape: ClassVar[str] = TASKS
    #: engine capability attributes that must be true, e.g. ("supports_resources",)
    needs: ClassVar[tuple[str, ...]] = ()
    #: size name -> parameters; every workload has tiny (tests), default and seed (original)
    sizes: ClassVar[dict[str, dict[str, Any]]] = {}
    #: every parameter the workload reads (those the sizes set and any other), with the
    #: type and range --param values are checked against before anything starts
    params_declared: ClassVar[dict[str, Param]] = {}
    #: repetitions of the sequential reference (sleep-bound references need only one)
    reference_repeats: ClassVar[int] = 3
    #: top-level modules the workload itself imports beyond distlab's own dependencies,
    #: and the extra that installs them: without them (an install without that extra)
    #: its cells are unsupported with the command, instead of failing on every engine
    requires: ClassVar[tuple[str, ...]] = ()
    requires_extra: ClassVar[str] = ""
    #: whether ``distlab run`` without --workloads runs it (else only when named)
    in_main_job: ClassVar[bool] = True

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
    def missing_libraries(cls) -> str | None:
        """Why this workload cannot run in this installation (None: it can)."""
        missing = [m for m in cls.requires if importlib.util.find_spec(m) is None]
        if not missing:
            return None
        return f"needs the Python module {', '.join(missing)}: pip install 'distlab[{cls.requires_extra}]'"

    @classmethod
    def parameter_names(cls) -> set[str]:
        """Every parameter --param may set for this workload."""
        return set(cls.params_declared)

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        """One line (DistlabError) for an unknown parameter or a value of the wrong type
        or out of range."""
        for key, value in params.items():
            declared = cls.params_declared.get(key)
            if declared is None:
                raise DistlabError(f"{cls.name} has no parameter {key!r}")
            declared.check(f"{cls.name}.{key}", value)

    def variants(self, engine: Engine) -> list[str]:
        return ["default"]

    def variant_unsupported(self, engine: Engine, variant: str) -> str | None:
        """Why the started ``engine`` cannot run ``variant`` (None: it can): the cell is
        then unsupported with that reason (a query an engine's API cannot express)."""
        return None

    def close(self) -> None:
        """Release what the workload kept between its runs (a server it started); called
        once the engine process is done with it."""

    def waits_s(self, workers: int) -> dict[str, float]:
        """Per variant, the least one run spends waiting on sleeps and paced sends with
        ``workers`` workers (none listed: compute-bound, no floor known): how long a size
        will take is said from it before a run starts."""
        return {}

    def references(self) -> dict[str, Any]:
        """Named single-process reference computations (callables returning a result).

        'sequential' is the seed's own loop and the base of every speed-up figure.
        """
        return {"sequential": self.reference}

    def repetitions(self, variant: str, warmup: int, repeats: int) -> tuple[int, int]:
        """(warm-up runs, least measured repetitions) for a cell of ``variant``, given the
        run's settings: those, unless a variant measures itself (a search)."""
        return warmup, repeats

    def warm(self, engine: Engine, variant: str) -> bool:
        """Whether a warm-up run of ``variant`` would warm nothing more: its first-time
        costs (the engine's first job, connections, compilation) were paid by the run just
        before on the same engine processes. Unknown (False) unless the workload knows."""
        return False

    def reference_runs(self, name: str, repeats: int) -> int:
        """How often the reference ``name`` is timed when cells get ``repeats``."""
        return self.reference_repeats if name == "sequential" else max(3, repeats)

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

    def answer_record(self, result: Any) -> dict[str, Any]:
        """What the cell records of the answer it verified (:func:`answer_record`): enough
        to re-check it from the results file alone."""
        return answer_record(result)
