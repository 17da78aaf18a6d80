"""The `distlab report` and `distlab compare` commands: they read results files only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("compare")(compare)


def _console():
    from distlab.cli import console  # the CLI's console: wide tables in pipes and CI logs

    return console


def report(
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
    from distlab.report.recommend import findings

    console = _console()
    doc = results.load(results_path)  # a bad file fails here with one line
    page = build_report(results_path, out)
    for section, items in findings(doc).items():
        if section in ("winners", "shapes", "caveats"):
            for f in items:
                console.print(f"- {f.text}", markup=False, highlight=False)
    console.print(f"report: {page}", markup=False, highlight=False)


def compare(
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
    from distlab.report import compare as cmp

    console = _console()
    result = cmp.compare(a, b, threshold=threshold, alpha=alpha)
    cmp.print_comparison(result, console)
    if html:
        console.print(f"html: {cmp.write_html(result, html)}", markup=False, highlight=False)
    if fail_on_regression and result.regressions:
        raise typer.Exit(1)
