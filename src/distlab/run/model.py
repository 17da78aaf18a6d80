"""The typed data model that crosses the parent/engine-process boundary (pyperf's lesson:
one data model on both sides, serialised in one place, read back in one place)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from distlab.results.codec import jsonable
from distlab.results.model import CellRecord, Settings, from_fields
from distlab.run.repetitions import DEFAULT_REPEATS


def to_json(obj: Any) -> str:
    """The one JSON encoding of the data model (numpy scalars and sets included)."""
    return json.dumps(obj, default=jsonable)


_from_dict = from_fields


@dataclass(kw_only=True)
class Measuring:
    """How cells are measured: what a run asks every engine for, and each engine process
    is handed as it was asked (RunSpec and EngineJob share these fields, declared once)."""

    size: str = "default"
    repeats: int = DEFAULT_REPEATS
    warmup: int = 1
    workers: int | None = None
    #: workload name -> its parameters (declared and checked by the workload)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    kill_worker: bool = False
    #: kill the engine's broker part-way through each cell's first measured repetition
    kill_broker: bool = False
    #: with ``hosts``: take a worker host off the network part-way through that repetition
    cut_host: bool = False
    #: the user's functions in the matrix: workload name -> FunctionSpec fields
    functions: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: extra repetitions where they decide a star (run/racing.py); False: the minimum
    race: bool = True
    #: one extra, unranked repetition of each task cell with every task's timeline
    #: recorded (run/timeline.py)
    timeline: bool = False

    def measuring(self) -> dict[str, Any]:
        """The shared fields, to hand on (shallow: the job is serialised at once)."""
        return {f.name: getattr(self, f.name) for f in fields(Measuring)}


@dataclass(kw_only=True)
class RunSpec(Measuring):
    """What the user asked ``distlab run`` for."""

    engines: list[str]
    workloads: list[str]
    addresses: dict[str, str] = field(default_factory=dict)
    #: engine name -> its options (declared and checked by the engine's plugin)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    cell_timeout: float = 900.0
    #: --workers 1,2,4: every engine runs the matrix at each count (a scaling curve);
    #: the cells of the largest count are the run's cells, all of them its scaling
    worker_counts: list[int] = field(default_factory=list)
    #: --hosts N: test hosts (network namespaces) the engines are deployed across, and
    #: their links: rtt_ms, loss_pct, rate
    hosts: int = 0
    links: dict[str, Any] = field(default_factory=dict)
    #: --budget: seconds the run is planned to (run/budget.py); None: no budget
    budget_s: float | None = None

    def settings(self) -> Settings:
        """What the results file records of the run's settings."""
        return Settings(**asdict(self))


@dataclass(kw_only=True)
class EngineJob(Measuring):
    """What one engine process is asked to do (``reference`` is the pseudo-engine that
    measures the single-process references): the run's Measuring fields, as asked, and
    this engine's own."""

    engine: str
    workloads: list[str]
    address: str | None = None
    #: this engine's options
    options: dict[str, Any] = field(default_factory=dict)
    #: per "workload/variant", the full-workload repetitions of the best cell the engines
    #: before this one measured (run/racing.py)
    rivals: dict[str, list[float]] = field(default_factory=dict)
    #: "workload/variant" -> why it is not run (the run's time budget left that row out)
    left_out: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return to_json(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> EngineJob:
        return _from_dict(cls, json.loads(text))


# -- events: what an engine process tells the parent --------------------------------------
@dataclass
class Event:
    kind: ClassVar[str] = "?"

    def to_json(self) -> str:
        return to_json({"event": self.kind, **asdict(self)})


@dataclass
class ReferenceMeasured(Event):
    """The single-process references of one workload (or why they failed)."""

    kind: ClassVar[str] = "reference"
    workload: str
    references: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class EngineStarted(Event):
    """The engine came up (status ok) or could not (status failed, with the error)."""

    kind: ClassVar[str] = "engine"
    engine: str
    status: str
    startup_s: float | None = None
    idle_mem_mb: float | None = None
    describe: dict[str, Any] | None = None
    #: as seen by the engine's own interpreter (Flink has its own)
    python: str | None = None
    versions: dict[str, str] | None = None
    error: str | None = None
    traceback: str | None = None


@dataclass
class CellStarted(Event):
    kind: ClassVar[str] = "cell_start"
    engine: str
    workload: str
    variant: str


@dataclass
class CellFinished(Event):
    kind: ClassVar[str] = "cell"
    cell: CellRecord

    def to_json(self) -> str:
        return to_json({"event": self.kind, "cell": self.cell.to_dict()})


@dataclass
class StepChanged(Event):
    """Live monitoring of a workflow's steps (microscopy)."""

    kind: ClassVar[str] = "step"
    engine: str
    workload: str
    step: str | None = None
    state: str | None = None
    seconds: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class EngineClosed(Event):
    kind: ClassVar[str] = "closed"
    engine: str
    close_s: float | None = None
    error: str | None = None


@dataclass
class Fatal(Event):
    """The engine process could not go on (a DistlabError): one line for the user."""

    kind: ClassVar[str] = "fatal"
    error: str


@dataclass
class Planned(Event):
    """The run's plan against its time budget (run/budget.py), before anything starts."""

    kind: ClassVar[str] = "plan"
    summary: str


@dataclass
class Interrupted(Event):
    kind: ClassVar[str] = "interrupted"


@dataclass
class Finished(Event):
    kind: ClassVar[str] = "done"


@dataclass
class BenchMeasured(Event):
    """A benchmark's figures for one engine (distlab.bench)."""

    kind: ClassVar[str] = "bench"
    row: dict[str, Any]


_EVENTS: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        ReferenceMeasured,
        EngineStarted,
        CellStarted,
        CellFinished,
        StepChanged,
        EngineClosed,
        Fatal,
        Planned,
        Interrupted,
        Finished,
        BenchMeasured,
    )
}


def decode_event(line: str) -> Event:
    """The one place an events-file line is read back."""
    data = json.loads(line)
    cls = _EVENTS[data.pop("event")]
    if cls is CellFinished:
        return CellFinished(CellRecord.from_dict(data["cell"]))
    return _from_dict(cls, data)
