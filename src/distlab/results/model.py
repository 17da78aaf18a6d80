"""The results file's records: one typed model for everything that writes or reads it.

Plain dataclasses (stdlib only), so that an engine process in an environment of its own
(Flink's virtualenv has only its own pins and distlab's source) builds and encodes its
cell records without any other library; the parent decodes them strictly and writes the
JSON Schema with msgspec (codec.py). A field a record does not know is ignored on decode
(a newer writer), a missing one takes its default (an older one, after upgrade.py).

``metrics`` (a cell's workload-specific figures), an engine's ``describe``, a cell's
``fault`` and ``time_spent`` stay mappings: each workload, engine and fault writes its own
keys, and the report reads them through report/figures.py and report/fault_figures.py.
"""

from __future__ import annotations

from dataclasses import Field, asdict, dataclass, field, fields
from typing import Any

SCHEMA = "distlab.results"
#: 3: typed records; a cell's work_fraction and compute_s beside its other fields (no
#: longer inside metrics); a workload's references under ``runs`` with its ``error`` apart
VERSION = 3
#: how peak and idle memory are measured (version 1 files measured RSS)
MEMORY_MEASURE = "pss"


def from_fields(cls, data: dict[str, Any]):
    """A dataclass from a dict, ignoring keys it does not know (older or newer writers);
    no checking of types: the parent decodes strictly (codec.decode)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class CellRecord:
    """One engine x workload x variant: what the results file stores per cell (built in
    the engine process, derived figures added by the parent)."""

    engine: str
    workload: str
    variant: str = "-"
    #: ok | failed | unsupported | skipped
    status: str = "ok"
    verified: bool = False
    reason: str | None = None
    error: str | None = None
    traceback: str | None = None
    verify_detail: str | None = None
    #: measured repetitions: n, median, min, max, mean, stdev, iqr, unstable, samples
    #: (distlab.stats.summarize)
    wall: dict[str, Any] | None = None
    wall_s: float | None = None
    n_tasks: int | None = None
    #: workload-specific figures, read through report/figures.py
    metrics: dict[str, Any] = field(default_factory=dict)
    #: share of the sequential reference's work this run did (None: no speed-up applies,
    #: e.g. a paced loop, a cached re-run, a refused request)
    work_fraction: float | None = 1.0
    #: seconds of the work itself (sleeps, fits) when the workload knows it
    compute_s: float | None = None
    peak_mem_mb: float | None = None
    startup_s: float | None = None
    lost: int = 0
    duplicates: int = 0
    #: the injected fault's record (run/faults.py; read by report/fault_figures.py)
    fault: dict[str, Any] | None = None
    #: the answer the cell verified, so that anyone can re-check it from the results
    #: file alone: the value when small, else length, checksum and sample values
    #: (Workload.answer_record)
    answer: dict[str, Any] | None = None
    #: where the cell's time went, in seconds: ``warmup`` (unmeasured runs), ``measured``
    #: (the measured runs whole, their harness included), ``other`` (the golden answer,
    #: verification, records), ``total``, and ``runs`` (how many of each)
    time_spent: dict[str, Any] | None = None
    #: with --timeline: each task's submit, start, end and receipt, the overhead split
    #: and what recording cost (distlab.run.timeline)
    timeline: dict[str, Any] | None = None
    # derived by the parent against the references
    speedup: float | None = None
    #: the engine's workers when the cell ran
    workers: int | None = None
    speedup_vs_numpy: float | None = None
    per_task_overhead_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The cell as the results file and the events file hold it (None left out, but
        for the fields every cell has)."""
        return {k: v for k, v in asdict(self).items() if v is not None or k in _ALWAYS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellRecord:
        return from_fields(cls, data)


#: fields every cell in the results file has, even when empty (work_fraction: None means
#: "no speed-up applies", which a missing field would turn into the default 1.0)
_ALWAYS = {"verified", "wall_s", "speedup", "per_task_overhead_ms", "peak_mem_mb", "work_fraction"}


@dataclass
class Speed:
    """The machine's speed figure (distlab.machine_speed): the reference's best time."""

    reference: str
    seconds: float
    samples: list[float] = field(default_factory=list)


@dataclass
class Environment:
    """Where the run ran, stored once per file."""

    host: str | None = None
    platform: str | None = None
    machine: str | None = None
    cpus: int | None = None
    memory_gb: float | None = None
    python: str | None = None
    implementation: str | None = None
    #: distribution -> installed version (the core's and every engine's libraries)
    libraries: dict[str, str] = field(default_factory=dict)
    #: None in a file written before the speed figure existed
    speed: Speed | None = None


@dataclass
class Settings:
    """What the run was asked for (run/model.py RunSpec, as recorded)."""

    engines: list[str] = field(default_factory=list)
    workloads: list[str] = field(default_factory=list)
    size: str | None = None
    repeats: int | None = None
    warmup: int | None = None
    workers: int | None = None
    addresses: dict[str, str] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    kill_worker: bool = False
    kill_broker: bool = False
    cut_host: bool = False
    cell_timeout: float | None = None
    functions: dict[str, dict[str, Any]] = field(default_factory=dict)
    worker_counts: list[int] = field(default_factory=list)
    hosts: int = 0
    #: the test hosts' links: rtt_ms, loss_pct, rate
    links: dict[str, Any] = field(default_factory=dict)
    budget_s: float | None = None
    race: bool = True
    timeline: bool = False


@dataclass
class Deployment:
    """An engine deployed across test hosts (``run --hosts N``)."""

    address: str | None = None
    #: role -> host
    placement: dict[str, Any] = field(default_factory=dict)
    links: dict[str, Any] = field(default_factory=dict)
    #: host name -> address
    hosts: dict[str, str] = field(default_factory=dict)


@dataclass
class EngineRecord:
    """An engine's start-up, close and versions (or why it could not run)."""

    #: ok | failed | unavailable; None: an engine process that never said
    status: str | None = None
    startup_s: float | None = None
    idle_mem_mb: float | None = None
    close_s: float | None = None
    #: what the engine says of itself: address, workers, resources, ...
    describe: dict[str, Any] | None = None
    #: as seen by the engine's own interpreter (Flink has its own)
    python: str | None = None
    versions: dict[str, str] | None = None
    error: str | None = None
    traceback: str | None = None
    hosts: Deployment | None = None


@dataclass
class Reference:
    """One single-process reference of a workload ('sequential', 'numpy', ...)."""

    wall: dict[str, Any] | None = None
    verified: bool | None = None
    detail: str | None = None
    metrics: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class WorkloadReferences:
    """A workload's references by name, or why none could be measured."""

    runs: dict[str, Reference] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Plan:
    """The run planned to its time budget (run/budget.py Plan, with its summary)."""

    budget_s: float | None = None
    speed_s: float | None = None
    predicted_s: float | None = None
    asked_s: float | None = None
    shortened: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    predicted: bool = True
    reference_speed_s: float | None = None
    summary: str | None = None


@dataclass
class LeftOut:
    """What the plan left out to fit the time budget."""

    units: list[str] = field(default_factory=list)
    why: str | None = None


@dataclass
class Timing:
    """Seconds each engine process took (``reference`` included), and the run's total."""

    engines: dict[str, float] = field(default_factory=dict)
    total_s: float | None = None


@dataclass
class Interruption:
    """A run stopped by Ctrl-C: the cells that were running, and how many had finished."""

    during: list[str] = field(default_factory=list)
    cells_finished: int = 0


@dataclass
class Scaling:
    """``--workers 1,2,4``: every count's cells (the largest count's are the run's cells)."""

    worker_counts: list[int] = field(default_factory=list)
    cells: list[CellRecord] = field(default_factory=list)


#: the metadata of a field that is not part of the file
ATTACHED = {"attached": True}


def in_file(f: Field) -> bool:
    return not f.metadata.get("attached")


@dataclass
class BenchDocument:
    """A bench file (``bench-<benchmark>.json``): one row of figures per engine (each
    benchmark its own columns)."""

    benchmark: str
    environment: Environment = field(default_factory=Environment)
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Results:
    """A results file: the run, its engines, references and cells."""

    schema: str = SCHEMA
    version: int = VERSION
    created: str | None = None
    command: list[str] = field(default_factory=list)
    environment: Environment = field(default_factory=Environment)
    settings: Settings = field(default_factory=Settings)
    #: "pss" (version 2 on) or "rss" (version 1)
    memory_measure: str = MEMORY_MEASURE
    engines: dict[str, EngineRecord] = field(default_factory=dict)
    references: dict[str, WorkloadReferences] = field(default_factory=dict)
    cells: list[CellRecord] = field(default_factory=list)
    plan: Plan | None = None
    timing: Timing | None = None
    left_out: LeftOut | None = None
    interrupted: Interruption | None = None
    scaling: Scaling | None = None
    #: the bench files beside the results (``distlab bench ... --out DIR``), by kind,
    #: attached by the report when it reads them (report/choose.py); never written here
    benches: dict[str, BenchDocument] = field(default_factory=dict, metadata=ATTACHED)

    def engine(self, name: str) -> EngineRecord:
        """The engine's record, created empty when the run has none yet."""
        return self.engines.setdefault(name, EngineRecord())
