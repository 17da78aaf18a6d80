"""Terminal tables of what this distlab offers: engines (installed, versions, capabilities,
and the options each declares) and workloads (shape, needs, sizes). They read the
registries, not a results file."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from distlab import registry
from distlab.contracts import DistlabError
from distlab.contracts.plugin import Option
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
                installed, caps[0] = False, escape(str(exc))
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
            "" if installed else escape(entry.install_hint),  # [extra] is not markup
        )
    for name, why in registry.BROKEN.items():  # another package's plugin that does not load
        t.add_row(name, "no", "", "", f"[red]{escape(why)}[/]", *[""] * (len(ENGINE_COLUMNS) - 5))
    return t


def _default_text(option: Option) -> str:
    if option.default is None:
        return "not set"
    if isinstance(option.default, bool):
        return "true" if option.default else "false"
    return str(option.default) if option.default != {} else "{}"


def options_table() -> Table:
    """Every engine's declared options (--option ENGINE.NAME=VALUE): type, default, help."""
    t = Table(title="engine options (--option ENGINE.NAME=VALUE)")
    for col in ("engine", "option", "accepts", "default", "what it sets"):
        t.add_column(col, overflow="fold")
    for name, plugin in registry.ENGINES.items():
        for i, option in enumerate(plugin.options):
            t.add_row(
                name if i == 0 else "",
                option.name,
                option.describe(),
                _default_text(option),
                option.help,
                end_section=i == len(plugin.options) - 1,
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
