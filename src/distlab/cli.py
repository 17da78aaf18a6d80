"""The `distlab` command: run, engines, workloads, bench, report, compare."""

from __future__ import annotations

import datetime as _dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from distlab.contracts import DistlabError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Run the same workloads on many distributed engines; verify, measure, report.",
)
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks that print figures and ratios.")
app.add_typer(bench_app, name="bench")
# Tables are wide: give pipes and CI logs room instead of folding every cell.
console = Console() if sys.stdout.isatty() else Console(width=160)


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
    repeats: Annotated[int, typer.Option(help="Measured repetitions per cell.")] = 3,
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
            help="Kill one worker process mid-run in each cell; report lost and duplicated results.",
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
) -> None:
    """Run workloads on engines, verify every answer, write DIR/results.json."""
    from distlab import runner
    from distlab.report.terminal import print_summary

    engine_names = _split(engines) or runner.default_engines()
    workload_names = _split(workloads) or runner.known_workloads()
    if gpus is None and "gpu_queue" in workload_names:
        from distlab.workloads.gpu_queue import default_gpu_count

        gpus = default_gpu_count()
        console.print(f"[dim]gpu_queue: declaring {gpus} GPUs on each engine (--gpus to change)[/]")
    spec = runner.RunSpec(
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
        cell_timeout=cell_timeout,
    )
    runner.validate(spec)
    out = out or Path("distlab-results") / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    with _Progress() as progress:
        doc = runner.run(spec, out, progress.update)
    print_summary(doc, console)
    console.print(f"results: {out / 'results.json'}")
    if report:
        from distlab.report.html import build_report

        console.print(f"report:  {build_report(out / 'results.json', out)}")
    bad = [c for c in doc["cells"] if c["status"] == "failed"]
    if bad:
        raise typer.Exit(1)


class _Progress:
    """One line per event while engines run (rich status spinner on a terminal)."""

    def __enter__(self):
        self._status = console.status("starting")
        self._status.__enter__()
        return self

    def __exit__(self, *exc):
        self._status.__exit__(*exc)

    def update(self, ev: dict) -> None:
        kind = ev.get("event")
        if kind == "cell_start":
            self._status.update(f"{ev['engine']}: {ev['workload']} ({ev['variant']}) ...")
        elif kind == "cell":
            status = ev["status"]
            colour = {"ok": "green", "failed": "red"}.get(status, "dim")
            wall = ev.get("wall_s")
            figure = f" {wall:.3f} s" if wall else ""
            detail = ev.get("error") or ev.get("reason") or ""
            console.print(
                f"  [{colour}]{status:<11}[/] {ev['engine']:<9} {ev['workload']:<10} "
                f"{ev.get('variant', '-'):<12}{figure} {detail}"
            )
        elif kind == "engine":
            if ev.get("status") == "ok":
                console.print(f"[bold]{ev['engine']}[/] started in {ev['startup_s']:.2f} s")
            else:
                console.print(
                    f"[bold]{ev['engine']}[/] [red]{ev.get('status')}[/] {ev.get('error', '')}"
                )
        elif kind == "step":
            # live monitoring of workflow steps (e.g. microscopy): state and timing
            text = f"{ev['engine']}: {ev['workload']} step {ev.get('step')} {ev.get('state')}"
            self._status.update(text)
            if ev.get("state") in ("done", "failed", "retry"):  # cached steps: status line only
                took = f" {ev['seconds']:.2f} s" if ev.get("seconds") is not None else ""
                console.print(f"    [dim]{text}{took}[/]")
        elif kind == "reference":
            self._status.update(f"references: {ev['workload']}")


def _run_bench(
    kind: str, names: list[str], params: dict, address: list[str] | None, out: Path | None
) -> list[dict]:
    """Validate engines and addresses, measure each engine in its own process, save."""
    from distlab import bench, runner

    addresses = _pairs(address, "--address")
    runner.validate(runner.RunSpec(engines=names, workloads=["squares"], addresses=addresses))
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
    from rich.table import Table

    if n < 1 or cap < 1 or repeats < 1:
        raise DistlabError("--n, --cap and --repeats must be >= 1")
    params = {"n": n, "cap": cap, "repeats": repeats, "workers": workers}
    rows = _run_bench("granularity", _split(engines), params, address, out)
    t = Table(title=f"W2 numbers, n={n:,}: medians of {repeats}")
    for col in (
        "engine",
        "loop s",
        "numpy s",
        "auto batch",
        "batched s",
        "best batch",
        "best s",
        "auto/best",
        "per-elem ms/task",
        "per-elem full s (extrap.)",
        "batched vs per-elem",
        "vs loop",
        "vs numpy",
        "compute/serial./sched. s",
    ):
        t.add_column(col, overflow="fold")
    for r in rows:
        if "error" in r:
            t.add_row(r["engine"], f"[red]{r['error']}[/]", *[""] * 12)
            continue
        b = r["breakdown_s"]
        t.add_row(
            r["engine"],
            f"{r['sequential_s']:.3f}",
            f"{r['numpy_s']:.4f}",
            f"{r['auto_batch_size']:,}",
            f"{r['auto_s']:.3f}",
            f"{r['best_batch_size']:,}",
            f"{r['best_s']:.3f}",
            f"{r['auto_vs_best']:.2f}",
            f"{r['per_element_task_ms']:.3f}",
            f"{r['per_element_extrapolated_s']:.1f}",
            f"{r['batched_vs_per_element']:.0f}x",
            f"{r['speedup_vs_sequential']:.2f}x",
            f"{r['speedup_vs_numpy']:.3f}x",
            f"{b['compute']:.3f}/{b['serialization']:.3f}/{b['scheduling_and_other']:.3f}",
        )
    console.print(t)
    for r in rows:
        if "sweep" in r:
            sweep = ", ".join(f"{s['batch_size']:,}: {s['wall_s']:.3f}s" for s in r["sweep"])
            console.print(f"[dim]{r['engine']} sweep: {sweep}[/]")


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
    from rich.table import Table

    from distlab import registry, runner
    from distlab.contracts import TASKS

    names = _split(engines) or [
        e for e in runner.default_engines() if TASKS in registry.engine_class(e).shapes
    ]
    if n < 1 or round_trips < 1 or repeats < 1:
        raise DistlabError("--n, --round-trips and --repeats must be >= 1")
    params = {"n": n, "round_trips": round_trips, "repeats": repeats, "workers": workers}
    rows = _run_bench("tiny-tasks", names, params, address, out)
    t = Table(title=f"no-op tasks: {n} per sample, median of {repeats}; {round_trips} round trips")
    for col in (
        "engine",
        "distlab tasks/s",
        "native tasks/s",
        "adapter cost (thr.)",
        "distlab RT p50/p99 ms",
        "native RT p50/p99 ms",
        "adapter cost (p50)",
    ):
        t.add_column(col)
    for r in rows:
        if "error" in r:
            t.add_row(r["engine"], f"[red]{r['error']}[/]", *[""] * 5)
            continue
        rt = r["adapter_rt_ms"]
        nrt = r.get("native_rt_ms")
        t.add_row(
            r["engine"],
            f"{r['adapter_tasks_per_s']:,.0f}",
            f"{r['native_tasks_per_s']:,.0f}" if nrt else "n/a",
            f"{(r['throughput_cost'] - 1) * 100:+.1f}%" if nrt else "-",
            f"{rt['p50']:.2f} / {rt['p99']:.2f}",
            f"{nrt['p50']:.2f} / {nrt['p99']:.2f}" if nrt else "n/a",
            f"{(r['rt_p50_cost'] - 1) * 100:+.1f}%" if nrt else "-",
        )
    console.print(t)


@app.command("engines")
def engines_cmd() -> None:
    """What engines are installed, their versions and capabilities."""
    from rich.table import Table

    from distlab import registry
    from distlab.results import library_versions

    t = Table(title="engines")
    for col in (
        "engine",
        "installed",
        "version",
        "shapes",
        "resources",
        "actors",
        "shared objects",
        "needs server",
        "install",
    ):
        t.add_column(col, overflow="fold")
    versions = library_versions()
    for name, e in registry.ENGINES.items():
        caps: list[str] = ["-"] * 5
        installed = e.installed()
        if installed:
            try:
                cls = registry.engine_class(name)
                caps = [
                    ", ".join(sorted(cls.shapes)),
                    *(
                        "yes" if getattr(cls, a) else "no"
                        for a in (
                            "supports_resources",
                            "supports_actors",
                            "supports_shared_objects",
                            "needs_server",
                        )
                    ),
                ]
                lib = cls.libraries[0] if cls.libraries else None
            except DistlabError as exc:
                installed, caps[0] = False, str(exc)
                lib = None
        else:
            lib = None
        version = versions.get(lib, "") if lib else ("stdlib" if name == "local" else "")
        t.add_row(
            name, "yes" if installed else "no", version, *caps, "" if installed else e.install_hint
        )
    console.print(t)


@app.command("workloads")
def workloads_cmd() -> None:
    """The workloads, their shapes, needs and sizes."""
    from rich.table import Table

    from distlab.workloads import WORKLOADS, workload_class

    t = Table(title="workloads")
    for col in ("workload", "shape", "needs", "sizes", "description"):
        t.add_column(col, overflow="fold")
    for name in WORKLOADS:
        cls = workload_class(name)
        t.add_row(
            name, cls.shape, ", ".join(cls.needs) or "-", ", ".join(cls.sizes), cls.description
        )
    console.print(t)


try:  # report and compare commands live with the report package
    from distlab.report.commands import register as _register_report_commands

    _register_report_commands(app)
except ImportError:
    pass


def main() -> None:
    try:
        app()
    except DistlabError as exc:
        print(f"error: {exc}", file=sys.stderr)  # one line, never wrapped
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: everything started was stopped", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
