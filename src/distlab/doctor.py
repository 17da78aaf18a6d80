"""`distlab doctor`: per engine, what is installed, what is missing and the one command
that installs each missing thing; nothing is started, so it answers in a second.

What counts for the exit status (0: everything asked for can run, 1: something is
missing): the engines asked for (all by default) with their Python libraries and system
needs; without --engines also the libraries of the workloads and of the report's plots;
with --hosts also what the test hosts need. Parts made on first use (the JVM parts,
Flink's environment, Toxiproxy) do not count as missing while what makes them is there.
"""

from __future__ import annotations

import importlib.util
from importlib import metadata

from rich.markup import escape
from rich.table import Table

from distlab import needs, registry
from distlab.needs import Check

#: the libraries of workloads and the report's plots: (what, module, extra, distribution)
_WORKLOAD_LIBRARIES = (
    ("kfold", "sklearn", "ml", "scikit-learn"),
    ("stream", "confluent_kafka", "kafka", "confluent-kafka"),
    ("report plots", "matplotlib", "report", "matplotlib"),
)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return ""


def _library(module: str, extra: str, distribution: str | None = None) -> Check:
    if importlib.util.find_spec(module) is None:
        return Check(
            f"{module} (Python)", False, "not installed", f"pip install 'distlab[{extra}]'"
        )
    version = _version(distribution or module)
    return Check(f"{module} (Python)", True, version and f"version {version}")


def engine_checks(name: str) -> list[Check]:
    """An engine's Python libraries (its probe modules), then its system needs."""
    e = registry.entry(name)
    first_library = e.libraries[0] if e.libraries else None
    checks = [_library(m, e.extra, first_library if i == 0 else None)
              for i, m in enumerate(e.probe)]  # fmt: skip
    checks += needs.engine_checks(name)
    return checks or [Check("nothing beyond distlab", True)]


def workload_checks() -> dict[str, list[Check]]:
    sections = {what: [_library(module, extra, distribution)]
                for what, module, extra, distribution in _WORKLOAD_LIBRARIES}  # fmt: skip
    sections["stream"] += needs.stream_checks()
    return sections


_STATE = {
    "ok": "[green]present[/]",
    "first": "[yellow]on first use[/]",
    "missing": "[bold red]missing[/]",
}


def _state(check: Check) -> str:
    return _STATE["ok" if check.present else "first" if check.on_first_use else "missing"]


def diagnose(engines: list[str] | None, hosts: bool) -> tuple[Table, list[Check]]:
    """The table, and the missing checks that count for the exit status."""
    for name in engines or []:
        registry.entry(name)  # an unknown name: one line, before anything else
    asked = engines or list(registry.ENGINES)
    sections: list[tuple[str, list[Check], bool]] = [
        (name, engine_checks(name), True) for name in asked
    ]
    if not engines:
        sections += [(f"workload {w}" if w != "report plots" else w, checks, True)
                     for w, checks in workload_checks().items()]  # fmt: skip
    # shown either way; counted only when asked for (most runs need no test hosts)
    sections.append(("--hosts" if hosts else "--hosts (not asked)", needs.hosts_checks(), hosts))
    table = Table(title="distlab doctor", title_justify="left")
    for column in ("for", "needs", "state", "where / why", "to install"):
        table.add_column(column, overflow="fold")
    blocking: list[Check] = []
    for label, checks, counted in sections:
        for i, check in enumerate(checks):
            # escaped: "distlab[ray]" is an install command, not rich markup
            fix = f"[cyan]{escape(check.fix)}[/]" if check.fix and not check.present else ""
            table.add_row(
                escape(label) if i == 0 else "",
                escape(check.what),
                _state(check),
                escape(check.detail),
                fix,
            )
        blocking += [c for c in checks if counted and c.blocks]
        table.add_section()
    return table, blocking


def summary(blocking: list[Check], engines: list[str] | None, hosts: bool) -> str:
    scope = f"engines {', '.join(engines)}" if engines else "every engine and workload"
    if hosts:
        scope += " and the test hosts"
    if not blocking:
        return f"ok ({scope}): everything needed is here; parts 'on first use' are made then"
    missing = ", ".join(dict.fromkeys(c.what for c in blocking))
    fixes = "; ".join(dict.fromkeys(c.fix for c in blocking))
    return f"missing for {scope}: {missing}. To install: {fixes}"
