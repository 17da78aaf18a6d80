"""``distlab bench rtt``'s dataframe rows: one small TPC-H query (SF 0.01) on each engine
of the dataframe shape, deployed across the test hosts, at 0 ms and at the chosen round
trip, so a dataframe engine's planning and shuffle round trips show as the tasks' do.

The query runs in an engine process of its own on the driver's host h0 (after the tiny
tasks' one, on the same deployment), reads the tables from the filesystem the hosts
share, and every run's answer is verified. Its default, Q3, is small and joins three
tables (a shuffle between the workers, where a scan with one aggregate, Q1 or Q6, has
almost none). The slope is the growth of the query's median time per ms of round trip,
from at least ``MIN_SAMPLES`` runs at each point, given with the range the samples'
extremes allow; blank where none of the engine's links carried the delay.
"""

from __future__ import annotations

from typing import Any

from distlab import registry
from distlab.bench.model import BenchJob
from distlab.contracts import DistlabError

#: the TPC-H query of the dataframe rows when none is chosen
RTT_QUERY = "q3"
#: the row key saying a row is a dataframe row (its query)
QUERY_KEY = "query"


def rtt_query_cell(job: BenchJob) -> dict[str, Any]:
    """In the engine process: the query's first run (not a sample: plans and warms the
    workers), then ``repeats`` verified runs, their times the samples."""
    from distlab.workloads import create

    name = job.params[QUERY_KEY]
    workload = create("tpch", "tiny", queries=[name])
    samples = []
    with registry.create(
        job.engine, address=job.address, workers=job.workers, **job.options
    ) as eng:
        why = eng.unsupported(workload.queries[name])
        if why:
            raise DistlabError(f"{job.engine} cannot run TPC-H {name}: {why}")
        for i in range(1 + job.params["repeats"]):
            output = workload.run(eng, name)
            ok, note = workload.verify(output, name)
            if not ok:
                raise DistlabError(f"{job.engine}: TPC-H {name}: {note}")
            if i:
                samples.append(output.wall_s)
        interface = eng.interface
    return {"engine": job.engine, QUERY_KEY: name, "interface": interface,
            "query_samples_s": samples}  # fmt: skip
