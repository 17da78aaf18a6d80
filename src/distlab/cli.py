"""The `distlab` command: run, engines, workloads, bench, report, compare.

Each command parses and checks its options, calls the library, and prints through
``distlab.console``; the tables and pages themselves are built in ``distlab.report``.
Heavy imports (engines, matplotlib) happen inside the commands that need them, so
``distlab --help`` and bad input stay fast.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Annotated

import typer

from distlab.console import EXIT_INTERRUPTED, console, print_plain, run_command
from distlab.contracts import DistlabError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Run the same workloads on many distributed engines; verify, measure, report.",
)
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks that print figures and ratios.")
app.add_typer(bench_app, name="bench")


def _split(text: str | None) -> list[str]:
    return [x.strip() for x in (text or "").split(",") if x.strip()]


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for v in values or []:
        name, sep, rest = v.partition("=")
        if not sep or not name or not rest:
            raise DistlabError(f"{flag} expects ENGINE=VALUE, got {v!r}")
        out[name.strip()] = rest.strip()
    return out


def _params(values: list[str] | None) -> dict[str, dict]:
    """--param WORKLOAD.KEY=VALUE (VALUE read as JSON, else kept as a string)."""
    out: dict[str, dict] = {}
    for v in values or []:
        target, sep, raw = v.partition("=")
        workload, dot, key = target.partition(".")
        if not (sep and dot and workload and key):
            raise DistlabError(f"--param expects WORKLOAD.KEY=VALUE, got {v!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(workload.strip(), {})[key.strip()] = value
    return out


@app.command()
def run(
    engines: Annotated[
        str | None, typer.Option(help="Comma-separated engines (default: all installed).")
    ] = None,
    workloads: Annotated[
        str | None, typer.Option(help="Comma-separated workloads (default: all).")
    ] = None,
    size: Annotated[
        str, typer.Option(help="tiny (seconds), default, or seed (the originals).")
    ] = "default",
    repeats: Annotated[
        int,
        typer.Option(
            help="Least measured repetitions per cell (more until its median is stable, "
            "within a small time budget; a run of 10 s or more is measured once unless "
            "more than 2 are asked for)."
        ),
    ] = 2,
    warmup: Annotated[int, typer.Option(help="Unmeasured warm-up runs per cell.")] = 1,
    workers: Annotated[
        int | None, typer.Option(help="Workers per engine (default: CPU count).")
    ] = None,
    address: Annotated[
        list[str] | None,
        typer.Option(help="ENGINE=ADDRESS of an existing cluster or server; repeatable."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Directory for results.json (default: ./distlab-results/<time>)."),
    ] = None,
    kill_worker: Annotated[
        bool,
        typer.Option(
            "--kill-worker",
            help="Kill a worker process running one of the cell's tasks during its first "
            "measured repetition (reported apart, never in the medians); report lost and "
            "duplicated tasks and the recovery time.",
        ),
    ] = False,
    kill_broker: Annotated[
        bool,
        typer.Option(
            "--kill-broker",
            help="Kill the engine's broker (Celery's Redis, Kafka's broker) mid-run in each "
            "cell; one that keeps its data is restarted. Report what was lost and duplicated "
            "and how long recovery took, or how fast the engine named the dead broker.",
        ),
    ] = False,
    param: Annotated[
        list[str] | None,
        typer.Option(
            help="WORKLOAD.KEY=VALUE workload parameter (JSON value), e.g. "
            "microscopy.failure_rate=0.2; repeatable."
        ),
    ] = None,
    gpus: Annotated[
        int | None,
        typer.Option(help="Logical GPUs each engine declares (resource scheduling without a GPU)."),
    ] = None,
    report: Annotated[
        bool, typer.Option(help="Write the HTML report (DIR/report.html) after the run.")
    ] = True,
    cell_timeout: Annotated[
        float, typer.Option(help="Stop an engine that makes no progress for this many seconds.")
    ] = 900.0,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Also print every workflow step as it ends.")
    ] = False,
) -> None:
    """Run workloads on engines, verify every answer, write DIR/results.json."""
    from distlab import results
    from distlab.report.progress import RunProgress
    from distlab.report.terminal import print_summary
    from distlab.run import matrix

    engine_names = _split(engines) or matrix.default_engines()
    workload_names = _split(workloads) or matrix.known_workloads()
    if gpus is None and "gpu_queue" in workload_names:
        from distlab.workloads.gpu_queue import default_gpu_count

        gpus = default_gpu_count()
        console.print(f"[dim]gpu_queue: declaring {gpus} GPUs on each engine (--gpus to change)[/]")
    spec = matrix.RunSpec(
        engines=engine_names,
        workloads=workload_names,
        params=_params(param),
        size=size,
        repeats=repeats,
        warmup=warmup,
        workers=workers,
        addresses=_pairs(address, "--address"),
        options={n: {"gpus": gpus} for n in engine_names} if gpus is not None else {},
        kill_worker=kill_worker,
        kill_broker=kill_broker,
        cell_timeout=cell_timeout,
    )
    matrix.validate(spec)
    if size == "seed":
        from distlab.run.estimate import waits_floor_s

        minutes = waits_floor_s(spec) / 60
        print_plain(
            f"size seed: the originals' sizes and sleeps; at least {minutes:,.0f} minutes "
            "(what the workloads wait on, with warm-ups and repetitions, and each engine's "
            "start-up; compute comes on top). Ctrl-C stops it and keeps what finished."
        )
    out = out or Path("distlab-results") / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    results.writable_dir(out, "--out")  # before anything starts: a file, no permission
    with RunProgress(engine_names, workload_names, verbose=verbose) as progress:
        doc = matrix.run(spec, out, progress.update)
    print_summary(doc, console)
    print_plain(f"results: {out / 'results.json'}")
    if report:
        from distlab.report.html import build_report

        print_plain(f"report:  {build_report(out / 'results.json', out)}")
    if doc.get("interrupted"):
        print_plain(
            f"interrupted: everything started was stopped; the {len(doc['cells'])} cells "
            "that finished are in the files above"
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    bad = [c for c in doc["cells"] if c["status"] == "failed"]
    if bad:
        raise typer.Exit(1)


def _run_bench(
    kind: str, names: list[str], params: dict, address: list[str] | None, out: Path | None
) -> list[dict]:
    """Validate engines and addresses, measure each engine in its own process, save."""
    from distlab import bench
    from distlab.run import matrix

    addresses = _pairs(address, "--address")
    matrix.validate(matrix.RunSpec(engines=names, workloads=["squares"], addresses=addresses))
    rows = bench.run_cells(
        kind, names, params, addresses, progress=lambda m: console.print(f"[dim]{m}[/]")
    )
    if out:
        bench.save(kind, rows, out)
    return rows


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
    workers: Annotated[int | None, typer.Option(help="Workers per engine.")] = None,
    address: Annotated[list[str] | None, typer.Option(help="ENGINE=ADDRESS; repeatable.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Also write the figures to this JSON file.")
    ] = None,
) -> None:
    """W2 numbers: per-element vs batched tasks, the batch-size sweep, NumPy and the loop."""
    from distlab.report.bench_tables import granularity_sweeps, granularity_table

    if n < 1 or cap < 1 or repeats < 1:
        raise DistlabError("--n, --cap and --repeats must be >= 1")
    params = {"n": n, "cap": cap, "repeats": repeats, "workers": workers}
    rows = _run_bench("granularity", _split(engines), params, address, out)
    console.print(granularity_table(rows, n, repeats))
    for line in granularity_sweeps(rows):
        console.print(line)


@bench_app.command("tiny-tasks")
def bench_tiny_tasks(
    engines: Annotated[
        str | None,
        typer.Option(help="Comma-separated engines (default: all installed task engines)."),
    ] = None,
    n: Annotated[int, typer.Option(help="No-op tasks per throughput sample.")] = 1000,
    round_trips: Annotated[int, typer.Option(help="Sequential one-task round trips.")] = 200,
    repeats: Annotated[int, typer.Option(help="Throughput samples (median).")] = 5,
    workers: Annotated[int | None, typer.Option(help="Workers per engine.")] = None,
    address: Annotated[list[str] | None, typer.Option(help="ENGINE=ADDRESS; repeatable.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Also write the figures to this JSON file.")
    ] = None,
) -> None:
    """No-op tasks/s and round-trip p50/p99 through distlab and through each engine's own API."""
    from distlab import registry
    from distlab.contracts import TASKS
    from distlab.report.bench_tables import tiny_tasks_table
    from distlab.run import matrix

    names = _split(engines) or [
        e for e in matrix.default_engines() if TASKS in registry.engine_class(e).shapes
    ]
    if n < 1 or round_trips < 1 or repeats < 1:
        raise DistlabError("--n, --round-trips and --repeats must be >= 1")
    params = {"n": n, "round_trips": round_trips, "repeats": repeats, "workers": workers}
    rows = _run_bench("tiny-tasks", names, params, address, out)
    console.print(tiny_tasks_table(rows, n, round_trips, repeats))


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
    workers: Annotated[int | None, typer.Option(help="Workers per engine.")] = None,
    query: Annotated[
        str, typer.Option(help="windows (keyed tumbling windows) or top_n (sliding top-N).")
    ] = "windows",
    out: Annotated[
        Path | None, typer.Option(help="Also write the figures to this JSON file.")
    ] = None,
) -> None:
    """Each stream engine's highest sustained rate (search) next to the raw pipe's ceiling."""
    from distlab import bench, bench_streams
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
    rows += _run_bench("streams", _split(engines), params, None, None)
    if out:
        bench.save("streams", rows, out)
    console.print(streams_table(rows, {**bench_streams.DEFAULTS, **params}))


@app.command("engines")
def engines_cmd() -> None:
    """What engines are installed, their versions and capabilities."""
    from distlab.report.catalog import engines_table

    console.print(engines_table())


@app.command("workloads")
def workloads_cmd() -> None:
    """The workloads, their shapes, needs and sizes."""
    from distlab.report.catalog import workloads_table

    console.print(workloads_table())


@app.command("report")
def report_cmd(
    results_path: Annotated[
        Path, typer.Argument(metavar="RESULTS", help="A results.json or the directory holding it.")
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Directory for report.html and plots/ (default: beside the results)."),
    ] = None,
) -> None:
    """Write an offline HTML page (matrix, plots, recommendations) from a results file."""
    from distlab import results
    from distlab.report.html import build_report
    from distlab.report.terminal import finding_lines

    doc = results.load(results_path)  # a bad file fails here with one line
    if out is not None:
        results.writable_dir(out, "--out")
    else:
        beside = results_path if results_path.is_dir() else results_path.parent
        results.writable_dir(beside, "the results file's directory")
    page = build_report(results_path, out)
    for line in finding_lines(doc):
        print_plain(line)
    print_plain(f"report: {page}")


@app.command("compare")
def compare_cmd(
    a: Annotated[Path, typer.Argument(metavar="A", help="Baseline results file or directory.")],
    b: Annotated[Path, typer.Argument(metavar="B", help="Results file or directory to judge.")],
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the comparison as an HTML page.")
    ] = None,
    threshold: Annotated[
        float, typer.Option(help="Relative slow-down that counts as a regression (0.10 = 10%).")
    ] = 0.10,
    alpha: Annotated[
        float, typer.Option(help="Significance level of the Mann-Whitney test.")
    ] = 0.05,
    fail_on_regression: Annotated[
        bool,
        typer.Option("--fail-on-regression", help="Exit 1 when any cell regressed (for CI)."),
    ] = False,
) -> None:
    """Compare two results: B/A per cell, significance, geometric mean, regressions."""
    from distlab import results
    from distlab.report import compare as cmp

    if html is not None:
        if html.is_dir():
            raise DistlabError(f"--html {html} is a directory; name the page's file")
        results.writable_dir(html.parent, "--html's directory")
    result = cmp.compare(a, b, threshold=threshold, alpha=alpha)
    cmp.print_comparison(result, console)
    if html:
        print_plain(f"html: {cmp.write_html(result, html)}")
    if fail_on_regression and result.regressions:
        raise typer.Exit(1)


def main() -> None:
    run_command(app)


if __name__ == "__main__":
    main()
