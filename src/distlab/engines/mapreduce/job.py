"""The MRJob that runs distlab's map_reduce: a Hadoop Streaming job whose mapper, combiner
and reducer call the user's Python functions.

The mapper's output is folded per key inside each map task (in-mapper combining).
The functions arrive cloudpickled in a file passed with ``--functions`` (shipped to every
task's working directory, on a real cluster too). Keys and values travel as pickles, so
any picklable key works, as in the other engines. Run as a script by every task process:
it imports only mrjob and cloudpickle, not distlab.
"""

from __future__ import annotations

import functools

import cloudpickle
from mrjob.job import MRJob
from mrjob.protocol import PickleProtocol

#: distinct keys a map task folds in memory before it emits them
MAX_PARTIAL_KEYS = 100_000


class MRFunctionJob(MRJob):
    INTERNAL_PROTOCOL = PickleProtocol
    OUTPUT_PROTOCOL = PickleProtocol

    def configure_args(self):
        super().configure_args()
        self.add_file_arg("--functions", help="cloudpickled (mapper, reducer) pair")

    def _load_functions(self):
        with open(self.options.functions, "rb") as f:
            self._mapper, self._reducer = cloudpickle.load(f)

    def mapper_init(self):
        self._load_functions()
        self._partial: dict = {}

    def mapper(self, _, line):
        # In-mapper combining: fold values per key inside the map task and emit them
        # at its end, which does a combiner's work without another task process.
        partial, reduce = self._partial, self._reducer
        for key, value in self._mapper(line):
            partial[key] = reduce(partial[key], value) if key in partial else value
        if len(partial) >= MAX_PARTIAL_KEYS:  # bound the task's memory
            yield from self.mapper_final()

    def mapper_final(self):
        yield from self._partial.items()
        self._partial = {}

    reducer_init = _load_functions

    def reducer(self, key, values):
        yield key, functools.reduce(self._reducer, values)


if __name__ == "__main__":
    MRFunctionJob.run()
