"""The `distlab` command: run, engines, doctor, workloads, bench, report, compare, history,
advise.

Each command parses and checks its options, calls the library, and prints through
``distlab.console``; the tables and pages themselves are built in ``distlab.report``.
Heavy imports (engines, matplotlib) happen inside the commands that need them, so
``distlab --help`` and bad input stay fast.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Annotated

import typer

from distlab.cli_options import (
    History,
    Rtt,
    pairs,
    params_of,
    split,
    worker_counts,
)
from distlab.cli_run_options import engine_options, links_of
from distlab.console import EXIT_INTERRUPTED, console, print_plain, run_command
from distlab.contracts import DistlabError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Run the same workloads on many distributed engines; verify, measure, report.",
)


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
            help="Least measured repetitions per cell (more where they decide a star: the "
            "best so far up to 5, a cell behind it until the test separates them; a run "
            "of 10 s or more is measured once unless more than 2 are asked for)."
        ),
    ] = 2,
    warmup: Annotated[int, typer.Option(help="Unmeasured warm-up runs per cell.")] = 1,
    budget: Annotated[
        str | None,
        typer.Option(
            help="Time budget, e.g. 5m or 90s, or none (default: 5m at the default size, "
            "none otherwise): the run predicts its length on this machine from a speed "
            "reference it times first, and shortens or leaves out what does not fit, "
            "saying what."
        ),
    ] = None,
    workers: Annotated[
        str | None,
        typer.Option(
            help="Workers per engine (default: CPU count); several, e.g. 1,2,4, run every "
            "engine at each count and add the scaling curve to the report."
        ),
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
    cut_host: Annotated[
        bool,
        typer.Option(
            "--cut-host",
            help="With --hosts: take the last worker host off the network (its link down) "
            "during each cell's first measured repetition and bring it back after a few "
            "seconds. Report lost and duplicated tasks, the recovery time and whether the "
            "engine noticed.",
        ),
    ] = False,
    timeline: Annotated[
        bool,
        typer.Option(
            "--timeline",
            help="After each task cell's ranked repetitions, one more (not ranked) with every "
            "task's submit, start, end and receipt recorded: the report's task stream, "
            "overhead split and the recording's measured cost.",
        ),
    ] = False,
    param: Annotated[
        list[str] | None,
        typer.Option(
            help="WORKLOAD.KEY=VALUE workload parameter (JSON value), e.g. "
            "microscopy.failure_rate=0.2; repeatable."
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            help="ENGINE.KEY=VALUE engine option (JSON value), e.g. celery.queue=jobs to use "
            "the workers already serving a queue of your own cluster; repeatable."
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
    hosts: Annotated[
        int,
        typer.Option(
            help="Deploy each engine across N test hosts on this machine (network "
            "namespaces: driver, server, workers; needs root); 0: one machine."
        ),
    ] = 0,
    rtt: Rtt = None,
    loss: Annotated[str | None, typer.Option(help="With --hosts: packet loss, e.g. 0.1%.")] = None,
    rate: Annotated[
        str | None, typer.Option(help="With --hosts: rate per link, e.g. 1gbit.")
    ] = None,
    function: Annotated[
        str | None,
        typer.Option(
            help="Your function in the matrix: MODULE:NAME or FILE.py:NAME, run over --items "
            "(golden answer: its sequential run); with it, --workloads defaults to none."
        ),
    ] = None,
    items: Annotated[
        str | None,
        typer.Option(
            help="The items for --function: MODULE:NAME of a callable (or a list), or a "
            ".json (a list), .txt (one item per line) or .npy file."
        ),
    ] = None,
    verify: Annotated[
        str | None,
        typer.Option(
            help="MODULE:NAME of check(result, golden) -> bool for results that are not "
            "compared by equality (floating point, unordered)."
        ),
    ] = None,
    history: History = None,
) -> None:
    """Run workloads on engines, verify every answer, write DIR/results.json."""
    from distlab import results
    from distlab.report.history_cells import record_run
    from distlab.report.terminal import print_summary
    from distlab.results import history as history_store
    from distlab.run import matrix, validate
    from distlab.run.progress import RunProgress

    engine_names = validate.with_delivery_presets(
        split(engines) or validate.default_engines(), faulted=kill_worker or kill_broker
    )
    functions = validate.function_workloads(function, items, verify)
    workload_names = split(workloads) or ([] if functions else validate.default_workloads())
    workload_names += list(functions)
    if gpus is None and "gpu_queue" in workload_names:
        from distlab.workloads.gpu_queue import default_gpu_count

        gpus = default_gpu_count()
        gpu_notice = f"gpu_queue: declaring {gpus} GPUs on each engine that takes gpus (--gpus)"
    else:
        gpu_notice = None
    counts = worker_counts(workers)
    from distlab.run.budget import parse_budget

    spec = matrix.RunSpec(
        budget_s=parse_budget(budget, size),
        engines=engine_names,
        workloads=workload_names,
        params=params_of(param),
        size=size,
        repeats=repeats,
        warmup=warmup,
        workers=counts[0] if len(counts) == 1 else None,
        worker_counts=counts if len(counts) > 1 else [],
        addresses=pairs(address, "--address"),
        options=engine_options(option, engine_names, gpus),
        kill_worker=kill_worker,
        kill_broker=kill_broker,
        cut_host=cut_host,
        timeline=timeline,
        cell_timeout=cell_timeout,
        functions=functions,
        hosts=hosts,
        links=links_of(hosts, rtt, loss, rate),
    )
    validate.validate(spec)
    if gpu_notice:  # after validation: bad input is one line, nothing before it
        console.print(f"[dim]{gpu_notice}[/]")
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
    # a directory or an unwritable place: one line, before the run
    history_path = history_store.prepare(history_store.resolve(history))
    with RunProgress(engine_names, workload_names, verbose=verbose) as progress:
        doc = matrix.run(spec, out, progress.update, checked=True)
    print_summary(doc, console)
    print_plain(f"results: {out / 'results.json'}")
    recorded = record_run(doc, out / "results.json", history_path)
    if recorded:
        print_plain(f"history: {recorded} cells appended to {history_path}")
    if report:
        from distlab.report.html import build_report

        page = build_report(out / "results.json", out, history=history_path)
        print_plain(f"report:  {page}")
    if doc.interrupted:
        print_plain(
            f"interrupted: everything started was stopped; the {len(doc.cells)} cells "
            "that finished are in the files above"
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    bad = [c for c in doc.cells if c.status == "failed"]
    if bad:
        raise typer.Exit(1)


@app.command("engines")
def engines_cmd() -> None:
    """What engines are installed, their versions, capabilities and options."""
    from distlab.report.catalog import engines_table, options_table

    console.print(engines_table())
    console.print(options_table())


@app.command("doctor")
def doctor_cmd(
    engines: Annotated[
        str | None, typer.Option(help="Comma-separated engines to check (default: all).")
    ] = None,
    hosts: Annotated[
        bool, typer.Option("--hosts", help="Also require what the test hosts need (root, ...).")
    ] = False,
) -> None:
    """What each engine needs, what is missing, the command that installs it; exit 1 if
    anything asked for is missing."""
    from distlab import doctor

    table, blocking = doctor.diagnose(split(engines) or None, hosts)
    console.print(table)
    print_plain(doctor.summary(blocking, split(engines) or None, hosts))
    if blocking:
        raise typer.Exit(1)


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
    history: History = None,
) -> None:
    """Write an offline HTML page (matrix, plots, recommendations) from a results file;
    with an earlier run of this machine in the history, what changed since."""
    from distlab import results
    from distlab.report.html import build_report
    from distlab.report.terminal import finding_lines
    from distlab.results import history as history_store

    doc = results.load(results_path)  # a bad file fails here with one line
    if out is not None:
        results.writable_dir(out, "--out")
    else:
        beside = results_path if results_path.is_dir() else results_path.parent
        results.writable_dir(beside, "the results file's directory")
    page = build_report(results_path, out, history=history_store.resolve(history))
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


def _add_groups() -> None:
    from distlab.bench.cli import bench_app
    from distlab.cli_advise import advise_cmd
    from distlab.cli_cluster import cluster_app
    from distlab.cli_history import history_cmd

    app.command("history")(history_cmd)
    app.add_typer(bench_app, name="bench")
    app.add_typer(cluster_app, name="cluster")
    app.command("advise")(advise_cmd)


_add_groups()


def main() -> None:
    run_command(app)


if __name__ == "__main__":
    main()
