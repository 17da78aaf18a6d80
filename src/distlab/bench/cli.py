"""`distlab bench ...`: benchmarks that print figures and ratios measured in one run.

Each command checks its options, measures every engine in an engine process of its own
(:mod:`distlab.bench`), prints its table (:mod:`distlab.report.bench_tables`) and, with
``--out``, writes the figures as JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distlab.bench.cli_common import (
    Addresses,
    Out,
    ReportOut,
    Workers,
    history_path,
    record,
)
from distlab.bench.cli_tpch import bench_tpch
from distlab.cli_options import History, pairs, parse_ms, split
from distlab.console import console
from distlab.contracts import DistlabError

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks that print figures and ratios.")
bench_app.command("tpch")(bench_tpch)

# the tiny-tasks cell's options (bench tiny-tasks, bench rtt; defaults differ)
TasksPerSample = Annotated[int, typer.Option(help="No-op tasks per throughput sample.")]
RoundTrips = Annotated[int, typer.Option(help="Sequential one-task round trips.")]
Samples = Annotated[int, typer.Option(help="Throughput samples (median).")]
TaskEngines = Annotated[
    str | None, typer.Option(help="Comma-separated engines (default: all installed task engines).")
]


def _run_bench(
    kind: str,
    names: list[str],
    params: dict,
    address: list[str] | None,
    out: Path | None,
    history: str | None,
) -> list[dict]:
    """Validate engines and addresses, measure each engine in its own process, save, and
    append the measured cells to the history."""
    from distlab.bench import runner
    from distlab.run import validate

    addresses = pairs(address, "--address")
    validate.validate_engines(names, addresses, params.get("workers"))
    to_history = history_path(history)
    rows = runner.run_cells(
        kind, names, params, addresses, progress=lambda m: console.print(f"[dim]{m}[/]")
    )
    if out:
        runner.save(kind, rows, out)
    record(kind, rows, params, to_history)
    return rows


def _task_engines(engines: str | None) -> list[str]:
    """The engines asked for, or every installed engine that runs tasks."""
    from distlab import registry
    from distlab.contracts import TASKS
    from distlab.run import validate

    return split(engines) or [
        e for e in validate.default_engines() if TASKS in registry.engine_class(e).shapes
    ]


@bench_app.command("granularity")
def bench_granularity(
    engines: Annotated[str, typer.Option(help="Comma-separated engines.")] = "local,ray,dask",
    n: Annotated[int, typer.Option(help="How many numbers (the seed: 1,000,000).")] = 1_000_000,
    cap: Annotated[
        int, typer.Option(help="Per-element tasks actually run (extrapolated).")
    ] = 5_000,
    repeats: Annotated[
        int, typer.Option(help="Interleaved rounds; each figure is a median over them.")
    ] = 7,
    workers: Workers = None,
    address: Addresses = None,
    out: Out = None,
    history: History = None,
) -> None:
    """W2 numbers: per-element vs batched tasks, the batch-size sweep, NumPy and the loop."""
    from distlab.report.bench_tables import granularity_sweeps, granularity_table

    if n < 1 or cap < 1 or repeats < 1:
        raise DistlabError("--n, --cap and --repeats must be >= 1")
    params = {"n": n, "cap": cap, "repeats": repeats, "workers": workers}
    rows = _run_bench("granularity", split(engines), params, address, out, history)
    console.print(granularity_table(rows, n, repeats))
    for line in granularity_sweeps(rows):
        console.print(line)


def _tiny_task_params(n: int, round_trips: int, repeats: int, workers: int | None) -> dict:
    if n < 1 or round_trips < 1 or repeats < 1:
        raise DistlabError("--n, --round-trips and --repeats must be >= 1")
    return {"n": n, "round_trips": round_trips, "repeats": repeats, "workers": workers}


@bench_app.command("tiny-tasks")
def bench_tiny_tasks(
    engines: TaskEngines = None,
    n: TasksPerSample = 1000,
    round_trips: RoundTrips = 200,
    repeats: Samples = 5,
    workers: Workers = None,
    address: Addresses = None,
    out: Out = None,
    history: History = None,
) -> None:
    """No-op tasks/s and round-trip p50/p99 through distlab and through each engine's own API."""
    from distlab.report.bench_tables import tiny_tasks_table

    names = _task_engines(engines)
    params = _tiny_task_params(n, round_trips, repeats, workers)
    rows = _run_bench("tiny-tasks", names, params, address, out, history)
    console.print(tiny_tasks_table(rows, n, round_trips, repeats))


@bench_app.command("queues")
def bench_queues(
    engines: Annotated[
        str | None, typer.Option(help="Comma-separated queues (default: every one installed).")
    ] = None,
    n: Annotated[int, typer.Option(help="Jobs per sample (the published test: 20,000).")] = 20_000,
    workers: Annotated[int, typer.Option(help="Workers per queue (the published test: 10).")] = 10,
    work_ms: Annotated[
        float, typer.Option(help="Milliseconds of CPU each job spins (0: no-op jobs).")
    ] = 0.0,
    repeats: Samples = 3,
    round_trips: RoundTrips = 100,
    address: Addresses = None,
    out: ReportOut = None,
    history: History = None,
) -> None:
    """The task queues' published no-op test: enqueue time, time to the last result, jobs/s
    and one-job round trips for every queue and pool kind, verified, with spread."""
    from distlab.bench import queues, runner
    from distlab.report.queue_tables import queues_table
    from distlab.run import validate

    if n < 1 or workers < 1 or repeats < 1 or round_trips < 1 or work_ms < 0:
        raise DistlabError(
            "--n, --workers, --repeats and --round-trips must be >= 1, --work-ms >= 0"
        )
    installed = set(validate.default_engines())
    rows = queues.pool_rows(split(engines) or [q for q in queues.QUEUES if q in installed])
    addresses = pairs(address, "--address")
    validate.validate_engines(sorted({r.engine for r in rows}), addresses, workers)
    params = {"n": n, "repeats": repeats, "round_trips": round_trips, "work_ms": work_ms}
    to_history = history_path(history)
    measured = []
    for row in rows:
        console.print(f"[dim]measuring {row.label} ...[/]")
        job = runner.bench_job(
            row.engine, {**params, "label": row.label}, addresses.get(row.engine),
            row.engine_options(workers),
        )  # fmt: skip
        job.workers = row.engine_workers(workers)
        measured.append({"label": row.label, **runner.measure("queues", job)})
        if out:  # after each row: a long bench interrupted keeps what it measured
            runner.save("queues", measured, out)
    console.print(queues_table(measured, params, queues.PUBLISHED_TO_LAST_S, queues.PUBLISHED_NOTE))
    record("queues", measured, {**params, "workers": workers}, to_history)


@bench_app.command("rtt")
def bench_rtt(
    engines: Annotated[
        str, typer.Option(help="Comma-separated engines that deploy across test hosts.")
    ] = "dask,celery,ray",
    hosts: Annotated[int, typer.Option(help="Test hosts (driver, server, workers).")] = 3,
    rtt: Annotated[str, typer.Option(help="Round trip measured against 0 ms, e.g. 2ms.")] = "2ms",
    n: TasksPerSample = 500,
    round_trips: RoundTrips = 100,
    repeats: Samples = 3,
    workers: Workers = None,
    query: Annotated[
        str,
        typer.Option(
            help="TPC-H query (SF 0.01) of the dataframe engines' rows, or 'none' for no "
            "dataframe rows."
        ),
    ] = "q3",
    out: Out = None,
    history: History = None,
) -> None:
    """Tiny tasks/s and round trips at 0 ms and at --rtt, on test hosts (needs root); a
    small TPC-H query's time for the engines of the dataframe shape."""
    from distlab import registry
    from distlab.bench import runner
    from distlab.bench.rtt import run_rtt
    from distlab.bench.rtt_query import QUERY_KEY
    from distlab.hosts import netns
    from distlab.hosts.toxiproxy import check_rtt
    from distlab.report.bench_tables import rtt_query_table, rtt_table
    from distlab.run import validate
    from distlab.workloads.tpch import QUERY_NAMES

    names = split(engines)
    validate.validate_engines(names, {}, workers)
    chosen = None if query == "none" else query
    if chosen is not None and chosen not in QUERY_NAMES:
        raise DistlabError(f"--query: tpch has no query {query!r}; its queries: "
                           f"{', '.join(QUERY_NAMES)}, or none")  # fmt: skip
    for name in names:
        registry.engine_class(name)  # one line now if it is not installed
        if not registry.entry(name).deploy:
            raise DistlabError(f"{name} cannot be deployed across test hosts yet")
        if "tasks" not in registry.entry(name).shapes and chosen is None:
            raise DistlabError(f"{name} runs no tasks, and --query none asks for no query")
    if hosts < 2:
        raise DistlabError("--hosts must be >= 2 (the driver's host and the engine's)")
    rtt_ms = parse_ms(rtt, "--rtt")
    check_rtt(rtt_ms, "--rtt")
    params = {**_tiny_task_params(n, round_trips, repeats, workers), QUERY_KEY: chosen}
    netns.require_privileges()
    to_history = history_path(history)
    rows = run_rtt(names, hosts, rtt_ms, params, progress=lambda m: console.print(f"[dim]{m}[/]"))
    if out:
        runner.save("rtt", rows, out)
    task_rows = [r for r in rows if QUERY_KEY not in r]
    query_rows = [r for r in rows if QUERY_KEY in r]
    if task_rows:
        console.print(rtt_table(task_rows, rtt_ms, hosts))
    if query_rows:
        console.print(rtt_query_table(query_rows, rtt_ms, hosts))
    record("rtt", rows, {**params, "hosts": hosts, "rtt_ms": rtt_ms}, to_history)


@bench_app.command("streams")
def bench_streams(
    engines: Annotated[
        str, typer.Option(help="Comma-separated stream engines.")
    ] = "kafka,flink,spark,ray,dask",
    seconds: Annotated[float, typer.Option(help="Steady seconds per point.")] = 5.0,
    warmup: Annotated[float, typer.Option(help="Warm-up seconds per point (left out).")] = 1.0,
    start_rate: Annotated[float, typer.Option(help="First offered rate (events/s).")] = 2000.0,
    max_rate: Annotated[float, typer.Option(help="Highest rate tried.")] = 512_000.0,
    p99_bound_ms: Annotated[float, typer.Option(help="p99 a sustained rate stays under.")] = 1000.0,
    workers: Workers = None,
    query: Annotated[
        str, typer.Option(help="windows (keyed tumbling windows) or top_n (sliding top-N).")
    ] = "windows",
    out: Out = None,
    history: History = None,
) -> None:
    """Each stream engine's highest sustained rate (search) next to the raw pipe's ceiling."""
    from distlab.bench import runner
    from distlab.bench import streams as bench_streams
    from distlab.contracts.streams import QUERIES
    from distlab.report.bench_tables import streams_table

    if seconds <= 0 or warmup < 0 or start_rate <= 0 or max_rate < start_rate:
        raise DistlabError("--seconds and --start-rate must be > 0, --max-rate >= --start-rate")
    if query not in QUERIES:
        raise DistlabError(f"--query must be one of {', '.join(QUERIES)}, not {query!r}")
    params = {
        "query": query,
        "seconds": seconds,
        "warmup_s": warmup,
        "start_rate": start_rate,
        "max_rate": max_rate,
        "p99_bound_ms": p99_bound_ms,
        "workers": workers,
    }
    console.print("[dim]measuring the raw pipe ...[/]")
    rows = [bench_streams.pipe_row(params)]
    rows += _run_bench("streams", split(engines), params, None, None, history)
    if out:
        runner.save("streams", rows, out)
    console.print(streams_table(rows, {**bench_streams.DEFAULTS, **params}))


@bench_app.command("break-even")
def bench_break_even(
    engines: TaskEngines = None,
    durations: Annotated[
        str, typer.Option(help="Task durations in ms of CPU work, comma-separated.")
    ] = "0.1,0.3,1,3,10,30,100,300,1000",
    point_s: Annotated[float, typer.Option(help="About how long one measured run lasts.")] = 1.0,
    repeats: Annotated[int, typer.Option(help="Measured runs per duration (median).")] = 3,
    workers: Workers = None,
    address: Addresses = None,
    out: ReportOut = None,
    history: History = None,
) -> None:
    """How small can a task be: efficiency against task duration, per-task overhead, and
    the duration at which each engine reaches 90% efficiency."""
    from distlab.report.choose_tables import break_even_sentence, break_even_table

    try:
        ms = [float(x) for x in split(durations)]
    except ValueError:
        raise DistlabError(f"--durations must be numbers of ms, not {durations!r}") from None
    if not ms or min(ms) <= 0 or point_s <= 0 or repeats < 1:
        raise DistlabError("--durations and --point-s must be > 0, --repeats >= 1")
    params = {"durations_ms": sorted(ms), "point_s": point_s, "repeats": repeats}
    params["workers"] = workers
    rows = _run_bench("break-even", _task_engines(engines), params, address, out, history)
    console.print(break_even_table(rows))
    for r in rows:
        console.print(break_even_sentence(r))


@bench_app.command("data-size")
def bench_data_size(
    engines: TaskEngines = None,
    sizes: Annotated[
        str, typer.Option(help="NumPy payload sizes, comma-separated (KB, MB, GB suffixes).")
    ] = "1KB,1MB,16MB,256MB",
    frame: Annotated[
        str, typer.Option(help="Size of the pandas DataFrame payload (0: none).")
    ] = "16MB",
    repeats: Annotated[int, typer.Option(help="Measured round trips per way and size.")] = 3,
    timeout: Annotated[float, typer.Option(help="Seconds one round trip may take.")] = 120.0,
    workers: Workers = None,
    address: Addresses = None,
    out: ReportOut = None,
    history: History = None,
) -> None:
    """What moving data costs: payloads as argument, as result, and shared once, per size;
    where each engine's copy happens and where it stops."""
    from distlab.report.choose_tables import data_size_sentences, data_size_table

    byte_sizes = [_bytes(s) for s in split(sizes)]
    frame_bytes = _bytes(frame)
    if not byte_sizes or min(byte_sizes) < 1 or repeats < 1 or timeout <= 0:
        raise DistlabError("--sizes must be >= 1 byte, --repeats >= 1, --timeout > 0")
    params = {
        "sizes": sorted(byte_sizes),
        "frame_bytes": frame_bytes,
        "repeats": repeats,
        "timeout_s": timeout,
        "workers": workers,
    }
    rows = _run_bench("data-size", _task_engines(engines), params, address, out, history)
    console.print(data_size_table(rows))
    for line in data_size_sentences(rows):
        console.print(line, highlight=False)


def _bytes(text: str) -> int:
    """'16MB' -> 16 MiB; plain numbers are bytes."""
    units = {"GB": 1024**3, "MB": 1024**2, "KB": 1024, "B": 1}
    raw = text.strip().upper()
    number, factor = raw, 1
    for unit, size in units.items():
        if raw.endswith(unit):
            number, factor = raw.removesuffix(unit).strip(), size
            break
    try:
        value = float(number)
    except ValueError:
        raise DistlabError(f"not a size: {text!r} (use e.g. 1KB, 16MB, 1GB)") from None
    return int(value * factor)
