"""`distlab advise MODULE:FN --items ...`: which engine, chunk size and worker count for
your function over your items, measured here (distlab.advice)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from distlab.cli_options import pairs, split
from distlab.cli_run_options import links_of
from distlab.console import print_plain
from distlab.contracts import DistlabError


def advise_cmd(
    function: Annotated[
        str, typer.Argument(metavar="MODULE:FN", help="Your function: MODULE:NAME or FILE.py:NAME.")
    ],
    items: Annotated[
        str,
        typer.Option(
            help="Its items: MODULE:NAME of a callable (or a list), or a .json (a list), "
            ".txt (one item per line) or .npy file."
        ),
    ],
    engines: Annotated[
        str | None,
        typer.Option(help="Comma-separated task engines (default: local, dask, ray if installed)."),
    ] = None,
    workers: Annotated[
        str | None, typer.Option(help="Worker counts to try, e.g. 1,2 (default: CPU count).")
    ] = None,
    verify: Annotated[
        str | None,
        typer.Option(help="MODULE:NAME of check(result, golden) -> bool (default: equality)."),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the advice as JSON to this file.")
    ] = None,
    address: Annotated[
        list[str] | None,
        typer.Option(
            help="ENGINE=ADDRESS of a running cluster to advise on (its workers, its round "
            "trip); repeatable. The process pool here stays the bar."
        ),
    ] = None,
    hosts: Annotated[
        int,
        typer.Option(
            help="Deploy the engines across N test hosts (network namespaces) and advise "
            "on those clusters from the driver's host."
        ),
    ] = 0,
    rtt: Annotated[
        str | None, typer.Option(help="With --hosts: the round trip between hosts, e.g. 20ms.")
    ] = None,
    history: Annotated[
        str | None,
        typer.Option(
            help="History file whose recent `bench tiny-tasks` (this machine, these "
            "versions) gives the per-task cost; 'none' to always measure."
        ),
    ] = None,
    engine_options: Annotated[
        str | None, typer.Option(hidden=True, help="ENGINE -> options, JSON (from --hosts).")
    ] = None,
) -> None:
    """Profile your function, predict each engine's time, race the promising
    configurations for real (verified), and print the recommendation and its code."""
    from distlab.advice import advise
    from distlab.results.history import resolve as history_path
    from distlab.workloads.user import load_items, load_object

    try:
        counts = [int(w) for w in split(workers)] or None
    except ValueError:
        raise DistlabError(f"--workers must be counts like 1,2, not {workers!r}") from None
    if json_out is not None and json_out.is_dir():
        raise DistlabError(f"--json {json_out} is a directory; name the file")
    addresses = pairs(address, "--address")
    links = links_of(hosts, rtt, None, None)
    if hosts and addresses:
        raise DistlabError("--hosts deploys its own clusters: give --hosts or --address, not both")
    if hosts < 0 or hosts == 1:
        raise DistlabError(f"--hosts must be 2 or more, not {hosts}")
    fn = load_object(function, "MODULE:FN")
    check = load_object(verify, "--verify") if verify else None
    if check is not None and not callable(check):
        raise DistlabError(f"--verify {verify} is not callable")
    listed = load_items(items)
    if hosts:
        # everything above is checked here, before any host or cluster starts
        from distlab.advice.advisor import SHORTLIST
        from distlab.advice.on_hosts import advise_across_hosts

        tail = [function, "--items", items, *(["--workers", workers] if workers else []),
                *(["--verify", verify] if verify else []),
                *(["--json", str(json_out.resolve())] if json_out else []),
                *(["--history", history] if history else [])]  # fmt: skip
        asked = split(engines) or [e for e in SHORTLIST if e != "local"]
        code = advise_across_hosts(tail, asked, hosts, links, (counts or [2])[0], print_plain)
        raise typer.Exit(code)
    advice = advise(
        fn,
        listed,
        split(engines) or None,
        counts,
        verify=check,
        say=print_plain,
        items_ref=items,
        addresses=addresses,
        engine_options=_options(engine_options),
        history=history_path(history),
    )
    print_plain("")
    print_plain("\n".join(advice.lines[advice.lines.index("") + 1 :]))
    if json_out is not None:
        json_out.write_text(json.dumps(advice.to_dict(), indent=2, default=str))
        print_plain(f"json: {json_out}")


def _options(text: str | None) -> dict[str, dict]:
    try:
        options = json.loads(text) if text else {}
    except json.JSONDecodeError:
        options = None
    if not isinstance(options, dict):
        raise DistlabError(f"--engine-options must be a JSON object, not {text!r}")
    return options
