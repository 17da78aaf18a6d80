"""W8 wordcount (seed 004: Hadoop MapReduce, Spark; "batch ETL").

Seeded text of a chosen size, split into files (the partitions), counted two ways where
an engine offers both: ``python`` (Hadoop-style map/reduce with Python functions:
mapper ``line.split()`` -> (word, 1), reducer ``+``) and ``builtin`` (the engine's own
operators, e.g. Spark DataFrame functions or Flink SQL, no Python UDF), which puts a
number on what Python functions cost on a JVM engine. The golden answer is
``collections.Counter`` over the same lines in one process; counts must match exactly.

Task engines without a native batch API run ``python`` through distlab's default
map_reduce (one task per file, a local combine, the final reduce in the driver).
"""

from __future__ import annotations

import hashlib
import operator
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from distlab.contracts import BATCH, TASKS, Engine, WordCount, task_map_reduce
from distlab.workloads.base import Param, RunOutput, Workload
from distlab.workloads.tpch_data import data_root

SEED = 4004
VOCABULARY = 20_000
WORDS_PER_LINE = 12


def wc_mapper(line: str) -> Iterator[tuple[str, int]]:
    for word in line.split():
        yield word, 1


def wc_reducer(a: int, b: int) -> int:
    return operator.add(a, b)


def _vocabulary(rng: np.random.Generator) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(2, 11, VOCABULARY)
    return ["".join(rng.choice(letters, n)) for n in lengths]


def generate_corpus(directory: Path, total_bytes: int, files: int, seed: int = SEED) -> list[Path]:
    """Write ``files`` text files of about ``total_bytes`` in all (Zipf-distributed words,
    irregular whitespace so tokenisation is really tested). Same seed, same bytes."""
    rng = np.random.default_rng(seed)
    vocab = _vocabulary(rng)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    per_file = max(1, total_bytes // files)
    for i in range(files):
        path = directory / f"part-{i:04d}.txt"
        lines, size = [], 0
        while size < per_file:
            ids = np.minimum(rng.zipf(1.3, WORDS_PER_LINE * 64), VOCABULARY) - 1
            for row in ids.reshape(64, WORDS_PER_LINE):
                sep = " " if rng.random() < 0.9 else "  \t"
                line = sep.join(vocab[j] for j in row)
                lines.append(line)
                size += len(line) + 1
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


class Wordcount(Workload):
    name = "wordcount"
    description = "word count over seeded generated text (seed 004 batch ETL)"
    shape = BATCH
    sizes = {
        "tiny": {"megabytes": 0.5, "files": 4},
        "default": {"megabytes": 1, "files": 4},
        "seed": {"megabytes": 50, "files": 16},
    }
    params_declared = {
        "megabytes": Param(float, above=0),
        "files": Param(int, minimum=1),
        # shared storage every worker can read (needed on a real cluster)
        "input_dir": Param(str, optional=True),
    }

    def __init__(self, size: str = "default", **overrides: Any):
        super().__init__(size, **overrides)
        # input_dir: shared storage every worker can read (needed on a real cluster)
        # else the data cache the TPC-H tables share (not /tmp: the files are kept for
        # the next run on purpose)
        base = self.params.get("input_dir") or data_root()
        key = hashlib.sha1(
            f"{self.params['megabytes']}-{self.params['files']}-{SEED}".encode()
        ).hexdigest()[:10]
        self.directory = Path(base) / f"wordcount-{key}"
        done = self.directory / ".complete"
        if done.exists():
            self.paths = sorted(self.directory.glob("part-*.txt"))
        else:
            self.paths = generate_corpus(
                self.directory, int(self.params["megabytes"] * 2**20), self.params["files"]
            )
            done.write_text("ok")

    @classmethod
    def unsupported_reason(cls, engine_cls: type[Engine]) -> str | None:
        if BATCH in engine_cls.shapes or TASKS in engine_cls.shapes:
            return None
        return f"{engine_cls.name} runs neither batch jobs nor tasks"

    def variants(self, engine: Engine) -> list[str]:
        builtin = BATCH in engine.shapes and WordCount in engine.builtin_ops
        return ["python", *(["builtin"] if builtin else [])]

    def reference(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for p in self.paths:
            with open(p, encoding="utf-8") as f:
                for line in f:
                    counts.update(line.split())
        return dict(counts)

    def run(self, engine: Engine, variant: str) -> RunOutput:
        paths = [str(p) for p in self.paths]
        if variant == "builtin":
            counts = engine.run_builtin(WordCount(tuple(paths)))
            how = "built-in operators"
        elif BATCH in engine.shapes:
            counts = engine.map_reduce(paths, wc_mapper, wc_reducer)
            native = engine.map_reduce_native
            how = "engine's map/reduce" if native else "distlab's task map/reduce"
        else:  # a task engine: distlab's map/reduce on its tasks
            counts = task_map_reduce(engine, paths, wc_mapper, wc_reducer)
            how = "distlab's task map/reduce"
        total_bytes = sum(p.stat().st_size for p in self.paths)
        metrics = {"implementation": how, "megabytes": total_bytes / 2**20, "files": len(paths)}
        if BATCH in engine.shapes:  # the engine's own record of the job (e.g. a YARN app id)
            metrics["job"] = engine.job_info()
        return RunOutput(dict(counts), n_tasks=len(paths), metrics=metrics)

    def verify(self, output: RunOutput, variant: str) -> tuple[bool, str]:
        got, want = output.result, self.golden()
        if got == want:
            return True, f"{len(want)} distinct words, {sum(want.values())} words: exact"
        missing = len(set(want) - set(got))
        extra = len(set(got) - set(want))
        wrong = sum(1 for k in set(got) & set(want) if got[k] != want[k])
        return False, f"{missing} words missing, {extra} unexpected, {wrong} counts differ"
