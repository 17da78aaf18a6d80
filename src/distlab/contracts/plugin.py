"""An engine as a plugin: what it is, declared as data that loads without its library.

Every engine package has a light entry module (``plugin.py``) exposing ``PLUGIN``, an
:class:`EnginePlugin`, registered in the ``distlab.engines`` entry-point group
(pyproject.toml); :mod:`distlab.registry` discovers them. The declaration is what
``distlab engines`` lists and what a run checks before anything starts: its shapes and
capabilities (equal to what the engine class derives: a test holds them together), the
install hint, the options it accepts (:class:`Option`), where its class and its deployment
across test hosts live (``"module:attribute"``, imported only when needed).

An engine reads its options through :meth:`EnginePlugin.read_options`: a typed mapping
with every declared option present (its default when not given); an unknown name or a
value of the wrong type or out of range is one line (:class:`DistlabError`).
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from distlab.contracts.errors import DistlabError, EngineUnavailable

#: the engine class's capability flags a plugin declares (those that are True)
CAPABILITY_FLAGS = (
    "supports_resources",
    "supports_actors",
    "supports_shared_objects",
    "needs_server",
)

_KIND_NAMES = {int: "an int", float: "a number", bool: "true or false", str: "a string",
               dict: "a JSON object", list: "a JSON list"}  # fmt: skip


@dataclass(frozen=True)
class Option:
    """One engine option: ``--option ENGINE.NAME=VALUE`` or ``distlab.engine(name, NAME=...)``.

    ``kind`` is int, float (ints accepted), bool, str, dict or list; ``default`` None
    means "not set": the engine then derives it (``help`` says how) and None is accepted;
    ``minimum``/``maximum`` bound numbers; ``choices`` lists the allowed values."""

    name: str
    kind: type
    default: Any = None
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None

    def describe(self) -> str:
        """What the option accepts, as said in an error: "an int >= 1"."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        text = _KIND_NAMES.get(self.kind, self.kind.__name__)
        if self.minimum is not None and self.maximum is not None:
            text += f" in [{self.minimum:g}, {self.maximum:g}]"
        elif self.minimum is not None:
            text += f" >= {self.minimum:g}"
        elif self.maximum is not None:
            text += f" <= {self.maximum:g}"
        return text

    def read(self, engine: str, value: Any) -> Any:
        """``value`` as this option's type, or a one-line DistlabError."""
        if value is None and self.default is None:
            return None
        typed = self._typed(value)
        if typed is _REFUSED or not self._in_range(typed):
            raise DistlabError(
                f"option {engine}.{self.name} must be {self.describe()}, got {value!r}"
            )
        return typed

    def _typed(self, value: Any) -> Any:
        kind = self.kind
        if kind is bool:
            return value if isinstance(value, bool) else _REFUSED
        if isinstance(value, bool):  # JSON true is no number and no name
            return _REFUSED
        if kind is float and isinstance(value, int | float):
            return float(value)
        if kind is str and isinstance(value, int | float):
            # `--option celery.queue=5`: the command line reads 5 as JSON, the user meant a name
            return str(value)
        if kind is list and isinstance(value, tuple):
            return list(value)
        return value if isinstance(value, kind) else _REFUSED

    def _in_range(self, value: Any) -> bool:
        if self.choices is not None:
            return value in self.choices
        if self.kind in (int, float):
            if self.minimum is not None and value < self.minimum:
                return False
            if self.maximum is not None and value > self.maximum:
                return False
        return True


_REFUSED = object()

#: between an engine's name and one of its settings presets: ``rq:at_least_once``
PRESET_SEPARATOR = ":"


@dataclass(frozen=True)
class Preset:
    """Named settings of an engine: ``--engines rq:at_least_once`` runs the engine with
    these options (the user's own ``--option`` still wins). A queue names what a task
    whose worker dies goes through under its defaults and under the settings its
    documentation recommends for at-least-once delivery; a fault run runs each."""

    name: str
    options: Mapping[str, Any]
    help: str = ""


@dataclass(frozen=True)
class EnginePlugin:
    """What an engine is, for the registry (see the module docstring)."""

    #: the name users type (``--engines NAME``)
    name: str
    #: "module:Class" of the engine adapter (imported only when the engine is used)
    engine: str
    #: the shapes of work the class implements (tasks, batch, streams)
    shapes: frozenset[str]
    #: the class's capability flags that are True (names from CAPABILITY_FLAGS)
    capabilities: frozenset[str] = frozenset()
    #: the pyproject extra of distlab that installs the engine's library (built-ins)
    extra: str | None = None
    #: how to install it when it is not an extra of distlab (a third-party engine)
    install: str | None = None
    #: importable top-level modules the adapter needs (all present: "installed")
    probe: tuple[str, ...] = ()
    #: distributions whose versions are recorded with every run of this engine
    libraries: tuple[str, ...] = ()
    #: the server or cluster it starts when given no address (None: only processes of
    #: its own library), e.g. "Redis on 127.0.0.1 (a broker and result store)"
    server: str | None = None
    #: "module:function" returning the Python that must run this engine (its own
    #: environment), None: the Python running distlab
    interpreter: str | None = None
    #: the options it accepts
    options: tuple[Option, ...] = ()
    #: "module:function" deploying the engine across test hosts (``deploy(hosts,
    #: workers[, gpus])``), or None and ``deploy_why`` saying why it cannot be
    deploy: str | None = None
    deploy_why: str | None = None
    #: settings presets on what a task whose worker dies goes through (each names only
    #: declared options); ``--kill-worker`` and ``--kill-broker`` run the engine with each
    delivery_presets: tuple[Preset, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.capabilities) - set(CAPABILITY_FLAGS)
        if unknown:
            raise ValueError(f"{self.name}: unknown capabilities {sorted(unknown)}")
        if len({o.name for o in self.options}) != len(self.options):
            raise ValueError(f"{self.name}: an option is declared twice")
        for preset in self.delivery_presets:
            self.read_options(preset.options)  # a preset names declared options only

    def preset(self, name: str) -> Preset:
        for preset in self.delivery_presets:
            if preset.name == name:
                return preset
        names = ", ".join(p.name for p in self.delivery_presets) or "none"
        raise DistlabError(f"unknown settings {self.name}:{name}; {self.name}'s: {names}")

    # -- what the registry and the catalog ask -------------------------------------------
    @property
    def install_hint(self) -> str:
        if self.install:
            return self.install
        extra = self.extra or self.name
        return f"pip install 'distlab[{extra}]'  (or: uv sync --extra {extra})"

    def installed(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.probe)

    def engine_class(self) -> type:
        """The adapter class (an Engine: lifecycle.py refers to this module, not back),
        imported now; EngineUnavailable (one line) when its library
        or its module is missing."""
        if not self.installed():
            raise EngineUnavailable(f"engine {self.name!r} is not installed: {self.install_hint}")
        module_name, _, attribute = self.engine.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name + ".").startswith(exc.name + "."):  # its own module
                raise EngineUnavailable(
                    f"engine {self.name!r}: its module {module_name!r} is not installed"
                ) from None
            raise EngineUnavailable(
                f"engine {self.name!r} needs {exc.name!r}: {self.install_hint}"
            ) from None
        try:
            return getattr(module, attribute)
        except AttributeError:
            raise EngineUnavailable(
                f"engine {self.name!r}: {module_name} has no {attribute!r}"
            ) from None

    # -- options ---------------------------------------------------------------------------
    def option(self, name: str) -> Option:
        for declared in self.options:
            if declared.name == name:
                return declared
        names = ", ".join(o.name for o in self.options) or "none"
        raise DistlabError(f"unknown option {self.name}.{name}; {self.name}'s options: {names}")

    def declares(self, name: str) -> bool:
        return any(o.name == name for o in self.options)

    def read_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The checked, typed options: every declared one, its default when not given."""
        # defaults copied: a dict default must not be shared by two engines that change theirs
        typed = {o.name: copy.deepcopy(o.default) for o in self.options}
        for name, value in given.items():
            typed[name] = self.option(name).read(self.name, value)
        return typed

    def check_options(self, given: Mapping[str, Any]) -> None:
        """One line (DistlabError) for an unknown option or a bad value, before a run."""
        self.read_options(given)
