"""Engine names -> their plugins (distlab.contracts.plugin), discovered through the
``distlab.engines`` entry points; an engine's class is imported only when it is chosen.

The built-in engines come first, in the documented order, then other packages' engines
sorted by name. The built-ins are loaded from their own modules (the targets of distlab's
own entry points), so they are there also where distlab runs without its installed
metadata (a source tree on the path, PyFlink's own environment); another package's entry
point under a built-in's name is refused. A plugin that does not load is kept aside with the reason (``BROKEN``): it
is one line where it is named, never a traceback. A missing engine library becomes
EngineUnavailable with the exact install command.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from distlab.contracts import DistlabError, Engine, EnginePlugin
from distlab.contracts.plugin import PRESET_SEPARATOR

#: the entry-point group engine packages declare their ``PLUGIN`` in
ENTRY_POINT_GROUP = "distlab.engines"
#: the engines shipped with distlab, in the order the matrix runs them
BUILT_IN = (
    "local", "ray", "dask", "celery", "dramatiq", "rq", "huey", "taskiq", "arq", "kafka",
    "scoop", "spark", "flink", "mapreduce", "pandas", "polars", "duckdb", "daft", "bytewax",
    "quixstreams",
)  # fmt: skip

#: name -> plugin, built-ins first (filled by discover(), at import)
ENGINES: dict[str, EnginePlugin] = {}
#: name -> why its plugin could not be loaded (one line)
BROKEN: dict[str, str] = {}


def _load(name: str, target: str) -> EnginePlugin:
    """The EnginePlugin at ``module:attribute``; ValueError saying why not (one line)."""
    module_name, _, attribute = target.partition(":")
    try:
        plugin = getattr(importlib.import_module(module_name), attribute or "PLUGIN")
    except Exception as exc:  # another package's code: any failure is its own, said once
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ValueError(f"{target} does not load ({type(exc).__name__}: {first})") from None
    if not isinstance(plugin, EnginePlugin):
        raise ValueError(f"{target} is a {type(plugin).__name__}, not an EnginePlugin")
    if plugin.name != name:
        raise ValueError(f"{target} declares the engine {plugin.name!r}, registered as {name!r}")
    return plugin


def _built_in_target(name: str) -> str:
    return f"distlab.engines.{name}.plugin:PLUGIN"


def discover() -> dict[str, EnginePlugin]:
    """Read the entry points again (e.g. after installing an engine package) and return
    ENGINES, updated in place."""
    ENGINES.clear()
    BROKEN.clear()
    others: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in BUILT_IN:
            others[ep.name] = ep.value
        elif ep.value != _built_in_target(ep.name):  # another package taking a built-in's name
            BROKEN[f"{ep.name} ({ep.value})"] = "its name is a built-in engine's"
    # the built-ins from their own modules, whatever metadata this environment holds
    targets = {name: _built_in_target(name) for name in BUILT_IN}
    targets.update(sorted(others.items()))
    for name, target in targets.items():
        try:
            ENGINES[name] = _load(name, target)
        except ValueError as exc:
            BROKEN[name] = str(exc)
    return ENGINES


def all_libraries() -> tuple[str, ...]:
    """Every engine's recorded distributions, in registry order, each once."""
    return tuple(dict.fromkeys(lib for e in ENGINES.values() for lib in e.libraries))


def split_name(name: str) -> tuple[str, str | None]:
    """``rq:at_least_once`` -> ("rq", "at_least_once"); ``rq`` -> ("rq", None)."""
    base, sep, preset = name.partition(PRESET_SEPARATOR)
    return base, (preset if sep else None)


def preset_options(name: str) -> dict:
    """The options a name's settings preset sets (none for a plain engine name)."""
    base, preset = split_name(name)
    return dict(entry(base).preset(preset).options) if preset else {}


def entry(name: str) -> EnginePlugin:
    """The plugin of an engine name (of its engine, for ``engine:preset``)."""
    base, preset = split_name(name)
    if preset is not None:
        plugin = entry(base)
        plugin.preset(preset)  # an unknown preset: one line
        return plugin
    try:
        return ENGINES[name]
    except KeyError:
        if name in BROKEN:
            raise DistlabError(f"engine {name!r} cannot be used: {BROKEN[name]}") from None
        raise DistlabError(f"unknown engine {name!r}; choose from: {', '.join(ENGINES)}") from None


def engine_class(name: str) -> type[Engine]:
    return entry(name).engine_class()


def check_options(name: str, options: dict) -> None:
    """One line (DistlabError) for an option ``name`` does not declare or a bad value."""
    entry(name).check_options({**preset_options(name), **options})


def create(name: str, address: str | None = None, workers: int | None = None, **options) -> Engine:
    """An engine adapter, not yet started (``with`` starts it); a name's settings preset
    comes under the options given."""
    options = {**preset_options(name), **options}
    return named(engine_class(name)(address=address, workers=workers, **options), name)


def named(engine: Engine, name: str) -> Engine:
    """``engine`` answering to the name it was chosen by: ``rq:at_least_once`` names its
    cells, its records and its messages, apart from the same engine's other settings."""
    if name != engine.name:
        engine.name = name  # the instance's own: the class keeps its engine's name
    return engine


discover()
