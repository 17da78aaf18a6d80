"""What the dataframe workloads share (TPC-H, groupby): a cell per query, each answer
checked against an independent reference, its time, scan rate and spill.

* Variants are the queries (``--param tpch.queries='["q1","q6"]'`` picks some); a query an
  engine cannot express is an unsupported cell with the engine's reason.
* The reference of a query is its official answer set where one exists for the data
  (TPC-H's at SF 1), else pandas, the single-core reference, run once in the harness
  before any timing and kept beside the data (keyed by the data's checksum), so every
  engine process checks against the same answer. Agreement across engines is checked
  again where all of them meet: ``distlab bench tpch`` compares their checksums.
* A run times only ``engine.run_query`` (no reading of the reference, no comparison);
  while it runs, a sampler reads the size of the engine's spill folders.
* Metrics per cell: the interface, the first run's time (planning, JIT and JVM warm-up
  are real costs: a cell's warm-up run is its first run), rows scanned per second (the
  rows of the tables the query reads over the median time), peak spill (how far the
  engine's spill folders grew while the query ran), the checksum.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from distlab.contracts import DistlabError, Engine
from distlab.contracts.dataframe import DATAFRAME, PANDAS_API, Answer, Query
from distlab.procs import folder_bytes
from distlab.workloads import answers
from distlab.workloads.base import RunOutput, Workload
from distlab.workloads.tpch_data import data_checksum, manifest_of


def api_forms(
    name: str,
    pandas: Mapping[str, Any],
    written: Mapping[str, tuple[Mapping[str, Any], Mapping[str, str]]],
) -> tuple[dict[str, Any], dict[str, str]]:
    """A query's forms per dataframe API (pandas always; each API of ``written``, api ->
    (its forms, why it cannot express some), where its form is written), and the APIs
    that cannot express it, with the reason: Query's ``frames`` and ``not_expressible``."""
    frames = {PANDAS_API: pandas[name]}
    missing = {}
    for api, (forms, cannot) in written.items():
        if name in forms:
            frames[api] = forms[name]
        if name in cannot:
            missing[api] = cannot[name]
    return frames, missing


#: how often the spill folders are measured while a query runs
SPILL_SAMPLE_S = 0.2


class QueryWorkload(Workload):
    shape: ClassVar[str] = DATAFRAME
    requires: ClassVar[tuple[str, ...]] = ("pyarrow", "pandas")
    reference_repeats: ClassVar[int] = 1

    #: the names ``--param NAME.queries`` accepts
    query_names: ClassVar[tuple[str, ...]] = ()
    #: set by the subclass: name -> Query, and table name -> Parquet file
    queries: dict[str, Query]
    tables: dict[str, str]

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        super().check_params(params)
        unknown = [q for q in params.get("queries") or () if q not in cls.query_names]
        if unknown:
            raise DistlabError(
                f"{cls.name} has no query {unknown[0]!r}; its queries: {', '.join(cls.query_names)}"
            )

    def _select(self, chosen: list[str] | None) -> None:
        if chosen:
            self.check_params({"queries": chosen})
            self.queries = {q: self.queries[q] for q in chosen}
        self.manifest = manifest_of(Path(next(iter(self.tables.values()))))
        self.data_checksum = data_checksum(self.manifest)
        self._first_run: dict[tuple[str, str], float] = {}

    # -- the reference -------------------------------------------------------------------
    def official_answer(self, name: str) -> tuple[tuple[str, ...], list, list] | None:
        """(columns, rows, rounding) of the query's stored answer set, if there is one."""
        return None

    def answer_set_name(self) -> str:
        """Whose stored answer sets ``official_answer`` reads, as a cell says it."""
        return "stored answer set"

    def references(self) -> dict[str, Any]:
        return {}  # pandas runs as an engine, the single-core row of every query

    def reference(self) -> dict[str, Any]:
        return {name: self.reference_answer(name) for name in self.queries}

    def reference_answer(self, name: str) -> dict[str, Any]:
        official = self.official_answer(name)
        if official is not None:
            columns, rows, rounding = official
            return {"by": self.answer_set_name(), "columns": columns, "rows": rows,
                    "rounding": rounding}  # fmt: skip
        cache = self._reference_cache(name)
        if cache.exists():
            return json.loads(cache.read_text())
        answer = self.pandas_answer(self.queries[name])
        record = {"by": "pandas (single-core reference)", "columns": list(answer.columns),
                  "rows": answers.normalise(answer.rows), "rounding": None}  # fmt: skip
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(record))
        return record

    def pandas_answer(self, query: Query) -> Answer:
        from distlab.engines.common.frames import finish, pandas_tables

        return finish(query.frames["pandas"](pandas_tables(self.tables, query.tables)), query)

    def _reference_cache(self, name: str) -> Path:
        key = self.data_checksum.removeprefix("sha256:")
        return Path(next(iter(self.tables.values()))).parent / "answers" / f"{key}-{name}.json"

    # -- the cells -----------------------------------------------------------------------
    def variants(self, engine: Engine) -> list[str]:
        return list(self.queries)

    def variant_unsupported(self, engine: Engine, variant: str) -> str | None:
        return engine.unsupported(self.queries[variant])

    def run(self, engine: Engine, variant: str) -> RunOutput:
        query = self.queries[variant]
        spill = _SpillSampler(engine.spill_folders())
        with spill:
            t0 = time.perf_counter()
            answer = engine.run_query(query, self.tables)
            wall = time.perf_counter() - t0
        first = self._first_run.setdefault((engine.name, variant), wall)
        scanned = sum(self.manifest["files"][t]["rows"] for t in query.tables)
        metrics = {
            "interface": engine.interface,
            "first_run_s": round(first, 4),
            "rows_scanned": scanned,
            "rows_per_s": round(scanned / wall) if wall > 0 else None,
            "spill_peak_mb": round(spill.peak / 2**20, 1),
            "data": self.data_checksum,
        }
        return RunOutput(answer, n_tasks=1, metrics=metrics, wall_s=wall)

    def verify(self, output: RunOutput, variant: str) -> tuple[bool, str]:
        want = self.golden()[variant]
        answer: Answer = output.result
        got = answers.normalise(answer.rows)
        rows = [tuple(r) for r in want["rows"]]
        rounding = [tuple(r) for r in want["rounding"]] if want["rounding"] else None
        wrong = answers.compare(got, rows, answer.columns, rounding)
        output.metrics["checksum"] = answers.checksum(got)
        if wrong:
            return False, f"{wrong} ({want['by']})"
        return True, f"{len(got)} rows agree with the {want['by']} ({answers.checksum(got)})"

    def answer_record(self, result: Any) -> dict[str, Any]:
        answer: Answer = result
        record = super().answer_record([list(answer.columns), answers.normalise(answer.rows)])
        record["checksum_rows"] = answers.checksum(answers.normalise(answer.rows))
        return record


class _SpillSampler:
    """How far some folders grew while a block ran (their peak total size over their size
    when it began: files an earlier query left, such as Spark's shuffle files kept until
    the JVM collects their query, are not this query's)."""

    def __init__(self, folders: list[str]):
        self.folders, self.peak = folders, 0
        self._start = sum(folder_bytes(f) for f in folders)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _SpillSampler:
        if self.folders:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._measure()

    def _sample(self) -> None:
        while not self._stop.wait(SPILL_SAMPLE_S):
            self._measure()

    def _measure(self) -> None:
        self.peak = max(self.peak, sum(folder_bytes(f) for f in self.folders) - self._start)
