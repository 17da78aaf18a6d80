"""`distlab advise MODULE:FN --items ...`: which engine, chunk size and worker count for
your function over your items, measured here (distlab.advice)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from distlab.cli_options import split
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
) -> None:
    """Profile your function, predict each engine's time, race the promising
    configurations for real (verified), and print the recommendation and its code."""
    from distlab.advice import advise
    from distlab.workloads.user import load_items, load_object

    try:
        counts = [int(w) for w in split(workers)] or None
    except ValueError:
        raise DistlabError(f"--workers must be counts like 1,2, not {workers!r}") from None
    if json_out is not None and json_out.is_dir():
        raise DistlabError(f"--json {json_out} is a directory; name the file")
    fn = load_object(function, "MODULE:FN")
    check = load_object(verify, "--verify") if verify else None
    if check is not None and not callable(check):
        raise DistlabError(f"--verify {verify} is not callable")
    advice = advise(
        fn,
        load_items(items),
        split(engines) or None,
        counts,
        verify=check,
        say=print_plain,
        items_ref=items,
    )
    print_plain("")
    print_plain("\n".join(advice.lines[advice.lines.index("") + 1 :]))
    if json_out is not None:
        json_out.write_text(json.dumps(advice.to_dict(), indent=2, default=str))
        print_plain(f"json: {json_out}")
