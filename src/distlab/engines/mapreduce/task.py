"""The map and reduce tasks of distlab's Hadoop Streaming jobs.

Hadoop Streaming runs this script in every map and reduce task (shipped with the job by
``-files``, beside ``functions.pkl``: the cloudpickled ``(mapper, reducer)`` pair):

    python task.py map functions.pkl      stdin: the split's lines (TextInputFormat values)
    python task.py reduce functions.pkl   stdin: "key<TAB>value" lines, sorted by key

The mapper's pairs are folded per key inside each map task (in-mapper combining: a
combiner's work without another process) and emitted at its end. Keys and values travel
as base64 pickles, so any picklable key works and equal keys are equal bytes (what
Hadoop's sort, grouping and partitioning compare). It imports only the standard library
and cloudpickle, never distlab: any Python with cloudpickle can run it on a cluster node.

A failing function prints its traceback and one line ``distlab-task-error: Type: message``
on stderr (the task's log) and exits 1: the task attempt fails, and so does the job.
"""

from __future__ import annotations

import base64
import pickle
import sys
import traceback

import cloudpickle

#: distinct keys a map task folds in memory before it emits them
MAX_PARTIAL_KEYS = 100_000
ERROR_MARK = "distlab-task-error: "


def encode(obj) -> bytes:
    return base64.b64encode(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def decode(data: bytes):
    return pickle.loads(base64.b64decode(data))


def _emit(out, partial: dict) -> None:
    out.write(b"".join(encode(k) + b"\t" + encode(v) + b"\n" for k, v in partial.items()))


def run_map(mapper, reducer, stdin, stdout) -> None:
    partial: dict = {}
    for raw in stdin:
        # Streaming gives each record's value and a newline (Hadoop's line reader already
        # split on \n, \r and \r\n): the mapper gets the line without its terminator.
        line = raw[:-1] if raw.endswith(b"\n") else raw
        for key, value in mapper(line.decode("utf-8")):
            partial[key] = reducer(partial[key], value) if key in partial else value
        if len(partial) >= MAX_PARTIAL_KEYS:  # bound the task's memory
            _emit(stdout, partial)
            partial = {}
    _emit(stdout, partial)


def run_reduce(reducer, stdin, stdout) -> None:
    current: bytes | None = None
    acc = None
    for raw in stdin:
        key, _, value = raw.rstrip(b"\n").partition(b"\t")
        if key == current:
            acc = reducer(acc, decode(value))
            continue
        if current is not None:
            stdout.write(current + b"\t" + encode(acc) + b"\n")
        current, acc = key, decode(value)
    if current is not None:
        stdout.write(current + b"\t" + encode(acc) + b"\n")


def main(argv: list[str]) -> int:
    phase, functions = argv[1], argv[2]
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        with open(functions, "rb") as f:
            mapper, reducer = cloudpickle.load(f)
        if phase == "map":
            run_map(mapper, reducer, stdin, stdout)
        elif phase == "reduce":
            run_reduce(reducer, stdin, stdout)
        else:
            raise ValueError(f"unknown phase {phase!r}")
        stdout.flush()
    except Exception as exc:
        traceback.print_exc()
        first = (str(exc).strip().splitlines() or [""])[0]
        sys.stderr.write(f"{ERROR_MARK}{type(exc).__name__}: {first}\n")
        sys.stderr.flush()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
