"""Terminal tables of what this distlab offers: engines (installed, versions, capabilities)
and workloads (shape, needs, sizes). They read the registries, not a results file."""

from __future__ import annotations

from rich.table import Table

from distlab import registry
from distlab.contracts import DistlabError
from distlab.results import library_versions
from distlab.workloads import WORKLOADS, entry_point_names, workload_class

ENGINE_COLUMNS = (
    "engine",
    "installed",
    "version",
    "server it starts",
    "shapes",
    "resources",
    "actors",
    "shared objects",
    "needs server",
    "install",
)
#: the engine class's capability flags, in the order of their columns above
CAPABILITY_FLAGS = (
    "supports_resources",
    "supports_actors",
    "supports_shared_objects",
    "needs_server",
)


def engines_table() -> Table:
    """Every registered engine; the capabilities of those whose adapter imports."""
    t = Table(title="engines")
    for col in ENGINE_COLUMNS:
        t.add_column(col, overflow="fold")
    versions = library_versions()
    for name, entry in registry.ENGINES.items():
        caps: list[str] = ["-"] * (1 + len(CAPABILITY_FLAGS))
        installed = entry.installed()
        lib = None  # the distribution whose version is shown: only for a working adapter
        server = "-"
        if installed:
            try:
                cls = registry.engine_class(name)
            except DistlabError as exc:  # installed, but the adapter cannot load: say why
                installed, caps[0] = False, str(exc)
            else:
                caps = [
                    ", ".join(sorted(cls.shapes)),
                    *("yes" if getattr(cls, flag) else "no" for flag in CAPABILITY_FLAGS),
                ]
                lib = entry.libraries[0] if entry.libraries else None
                if cls.server:
                    server = f"{cls.server_version()} ({cls.server})"
        version = versions.get(lib, "") if lib else ("stdlib" if name == "local" else "")
        t.add_row(
            name,
            "yes" if installed else "no",
            version,
            server,
            *caps,
            "" if installed else entry.install_hint,
        )
    return t


def workloads_table() -> Table:
    t = Table(title="workloads")
    for col in ("workload", "shape", "needs", "sizes", "description"):
        t.add_column(col, overflow="fold")
    for name in [*WORKLOADS, *entry_point_names()]:
        try:
            cls = workload_class(name)
        except DistlabError as exc:  # another package's entry point that does not load
            t.add_row(name, "-", "-", "-", f"[red]{exc}[/]")
            continue
        t.add_row(
            name, cls.shape, ", ".join(cls.needs) or "-", ", ".join(cls.sizes), cls.description
        )
    return t
