"""`distlab bench tpch`: TPC-H on every dataframe and SQL engine, scale by scale, until
each one breaks (the measuring is distlab.bench.tpch; the tables
distlab.report.dataframe_tables)."""

from __future__ import annotations

from typing import Annotated

import typer

from distlab.bench.cli_common import ReportOut, Workers, history_path, record
from distlab.cli_options import History, split
from distlab.console import console
from distlab.contracts import DistlabError


def bench_tpch(
    sf: Annotated[str, typer.Option(help="Scale factors, comma-separated (1 ~ 1 GB).")] = "1",
    engines: Annotated[
        str | None, typer.Option(help="Comma-separated (default: every dataframe engine).")
    ] = None,
    queries: Annotated[str | None, typer.Option(help="Comma-separated (default: all).")] = None,
    repeats: Annotated[int, typer.Option(help="Warm runs after each first run.")] = 3,
    time_limit: Annotated[float, typer.Option(help="Seconds one query may run.")] = 600.0,
    memory_limit: Annotated[
        float | None, typer.Option(help="GiB the engine's processes may hold (default 80% of RAM).")
    ] = None,
    data_dir: Annotated[str | None, typer.Option(help="Where the tables are kept.")] = None,
    workers: Workers = None,
    out: ReportOut = None,
    history: History = None,
) -> None:
    """TPC-H on every dataframe and SQL engine at each scale factor, every answer checked,
    time (first and warm runs), peak memory and spill, until each engine breaks."""
    from distlab import registry
    from distlab.bench import runner, tpch
    from distlab.report import dataframe_tables as show
    from distlab.run import validate
    from distlab.workloads.tpch import QUERY_NAMES

    try:
        scales = [float(s) for s in split(sf)]
    except ValueError:
        raise DistlabError(f"--sf takes numbers, e.g. 1,3,10 (got {sf!r})") from None
    chosen = split(queries) or list(QUERY_NAMES)
    if not scales or min(scales) <= 0 or repeats < 0 or time_limit <= 0:
        raise DistlabError("--sf must be > 0, --repeats >= 0, --time-limit > 0")
    if unknown := [q for q in chosen if q not in QUERY_NAMES]:
        raise DistlabError(
            f"no TPC-H query {unknown[0]!r} here; choose from {', '.join(QUERY_NAMES)}"
        )
    names = split(engines) or [e for e in validate.default_engines()
                               if "dataframe" in registry.entry(e).shapes]  # fmt: skip
    validate.validate_engines(names, {}, workers)
    params = {"repeats": repeats, "time_limit_s": time_limit, "data_dir": data_dir,
              "workers": workers, "memory_limit_mb": (memory_limit * 1024 if memory_limit
                                                      else tpch.default_memory_limit_mb())}  # fmt: skip
    to_history = history_path(history)
    rows = tpch.run_tpch(names, scales, chosen, params,
                         progress=lambda m: console.print(f"[dim]{m}[/]"))  # fmt: skip
    for table in show.scale_tables(rows, repeats):
        console.print(table)
    console.print(show.summary_table(rows))
    for line in show.reasons(rows):
        console.print(line, highlight=False)
    if out:
        saved = runner.save("tpch", rows, out)
        plot = show.scale_plot(rows, saved.with_name("tpch-scale.png"))
        from distlab import machine_speed
        from distlab.results import load_bench

        console.print(machine_speed.text(load_bench(saved).environment.speed), highlight=False)
        console.print(f"figures: {saved}" + (f"; plot: {plot}" if plot else ""))
    # where the tables are kept is no setting of the measurement
    record("tpch", rows, {k: v for k, v in params.items() if k != "data_dir"}, to_history)
