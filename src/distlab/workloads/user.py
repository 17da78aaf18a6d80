"""Your own work in the matrix, verified and measured like the built-in workloads.

Two forms:

* a function over items (``distlab run --function pkg.mod:fn --items pkg.mod:make_items``,
  or ``distlab.compare(fn, items)``): the golden answer is the sequential run of ``fn``
  over the items, compared by equality unless a ``verify`` callable says otherwise;
* a workload class of your own (``--workloads pkg.mod:MyWorkload``, or an entry point in
  the ``distlab.workloads`` group) implementing :class:`distlab.workloads.Workload`.

Every engine process resolves the same names again, so a user's module must be importable
there and on the engine's workers: its directory is put on ``PYTHONPATH`` (inherited by
every process distlab starts, and by the workers those start), and a function defined in
``__main__`` (a notebook, ``python -c``) travels by value, pickled once by the caller.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import pickle
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from distlab.contracts import TASKS, DistlabError, Engine
from distlab.workloads.base import Param, RunOutput, Workload

#: items files by suffix: how each is read
ITEM_FILES = (".json", ".txt", ".npy")


@dataclass(frozen=True)
class FunctionSpec:
    """Where a function workload's parts come from. ``function``, ``items`` and ``verify``
    are ``module:attribute`` or ``path/to/file.py:attribute``; ``items`` may also be a
    .json (a list), .txt (one string per line) or .npy file (one item per row).
    ``pickled`` names a cloudpickle file holding ``(fn, items, verify)`` instead
    (written by :func:`distlab.compare` for objects that have no importable name)."""

    function: str = ""
    items: str | None = None
    verify: str | None = None
    pickled: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


# -- importing the user's objects -----------------------------------------------------------
def module_root(module_name: str, file: str | None) -> str | None:
    """The directory to put on sys.path so that ``module_name`` imports from ``file``."""
    if not file:
        return None
    path = Path(file).resolve()
    depth = module_name.count(".") + (1 if path.name == "__init__.py" else 0)
    return str(path.parents[depth])


def importable_everywhere(root: str | None) -> None:
    """Put ``root`` on this process's sys.path and on PYTHONPATH, which every process
    distlab starts (engine processes, servers, workers) inherits."""
    if not root:
        return
    if root not in sys.path:
        sys.path.insert(0, root)
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *parts])


def load_object(spec: str, what: str) -> Any:
    """``module:attr`` or ``file.py:attr`` -> the object; one line if that fails."""
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise DistlabError(f"{what} must be MODULE:NAME or FILE.py:NAME, not {spec!r}")
    try:
        if target.endswith(".py"):
            module = _import_file(Path(target), what)
        else:
            # as `python -m` and uvicorn do: modules in the current directory import
            importable_everywhere(os.getcwd())
            module = importlib.import_module(target)
    except DistlabError:
        raise
    except Exception as exc:  # ImportError, or the module's own error at import
        raise DistlabError(f"{what} {spec!r}: cannot import {target}: {exc}") from None
    importable_everywhere(module_root(module.__name__, getattr(module, "__file__", None)))
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise DistlabError(f"{what} {spec!r}: {target} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def _import_file(path: Path, what: str):
    if not path.is_file():
        raise DistlabError(f"{what}: no such file {path}")
    importable_everywhere(str(path.resolve().parent))
    # imported under its plain name, as the workers will import it from PYTHONPATH
    module = importlib.import_module(path.stem)
    found = Path(getattr(module, "__file__", "") or "").resolve()
    if found != path.resolve():
        raise DistlabError(
            f"{what}: {path} is shadowed by another module named {path.stem!r} ({found}); "
            "rename the file"
        )
    return module


def load_items(spec: str) -> list[Any]:
    """The items a function runs over: from a callable (called with no argument) or a
    file; always a list."""
    path = Path(spec)
    if path.suffix in ITEM_FILES and ":" not in spec:
        if not path.is_file():
            raise DistlabError(f"--items: no such file {path}")
        try:
            if path.suffix == ".json":
                data = json.loads(path.read_text())
            elif path.suffix == ".npy":
                import numpy as np

                data = list(np.load(path, allow_pickle=False))
            else:
                data = path.read_text().splitlines()
        except (ValueError, OSError) as exc:
            raise DistlabError(f"--items {path}: cannot read it: {exc}") from None
        if not isinstance(data, list):
            raise DistlabError(f"--items {path}: the file must hold a list")
        return data
    source = load_object(spec, "--items")
    try:
        items = source() if callable(source) else source
        return list(items)
    except Exception as exc:
        raise DistlabError(f"--items {spec}: {type(exc).__name__}: {exc}") from None


def shippable(fn: Any, name: str) -> None:
    """One line if ``fn`` cannot be sent to workers (every engine pickles it)."""
    import cloudpickle

    if not callable(fn):
        raise DistlabError(f"{name} is not callable (it is a {type(fn).__name__})")
    try:
        cloudpickle.dumps(fn)
    except Exception as exc:
        raise DistlabError(
            f"{name} cannot be sent to workers: pickling it failed ({type(exc).__name__}: "
            f"{exc}); a function that holds open files, locks or sockets cannot travel"
        ) from None


# -- the function workload -----------------------------------------------------------------
class FunctionWorkload(Workload):
    """A user's function over a list of items: one task per item, and batched."""

    shape = TASKS
    spec: FunctionSpec = FunctionSpec()
    # the user's items are the size: every size runs them as they are
    sizes = {"tiny": {}, "default": {}, "seed": {}}
    params_declared = {"batches_per_worker": Param(int, minimum=1)}
    reference_repeats = 3

    def __init__(self, size: str = "default", **overrides: Any):
        super().__init__(size, **overrides)
        self.params.setdefault("batches_per_worker", 4)
        self.fn, self.items, self.check = resolve(self.spec, self.name)

    def variants(self, engine: Engine) -> list[str]:
        return ["per_item", "batched"]

    def reference(self) -> list[Any]:
        return [self.fn(x) for x in self.items]

    def batch_size(self, workers: int) -> int:
        return max(1, math.ceil(len(self.items) / (workers * self.params["batches_per_worker"])))

    def run(self, engine: Engine, variant: str) -> RunOutput:
        workers = engine.workers or 1
        chunk = self.batch_size(workers) if variant == "batched" else None
        result = engine.map(self.fn, self.items, chunksize=chunk)
        tasks = math.ceil(len(self.items) / chunk) if chunk else len(self.items)
        return RunOutput(result, n_tasks=tasks, metrics={"items": len(self.items), "batch": chunk})

    def verify(self, output: RunOutput, variant: str) -> tuple[bool, str]:
        if self.check is None:
            return super().verify(output, variant)
        try:
            verdict = self.check(output.result, self.golden())
        except AssertionError as exc:
            return False, f"the verify function refused it: {exc}"
        return judged(verdict)


def judged(verdict: Any) -> tuple[bool, str]:
    """What a verify function's return value says: only True (or NumPy's true) accepts.
    Anything else refuses, so a check that forgot its ``return`` (None) or answered with a
    number cannot pass a wrong answer as verified."""
    if verdict is True or (_numpy_bool(verdict) and bool(verdict)):
        return True, "accepted by the verify function"
    if verdict is False or _numpy_bool(verdict):
        return False, "the verify function returned False"
    if verdict is None:
        return False, (
            "the verify function returned None, not True or False: did it forget to return?"
        )
    shown = repr(verdict)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return False, (
        f"the verify function returned {shown} ({type(verdict).__name__}), not True or False"
    )


def _numpy_bool(value: Any) -> bool:
    # by the type's home, not by importing NumPy: a user's check may never have used it
    kind = type(value)
    return kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_")


def resolve(spec: FunctionSpec, name: str) -> tuple[Any, list[Any], Any]:
    """(fn, items, verify or None) of a function workload, each checked."""
    if spec.pickled:
        import cloudpickle

        try:
            with open(spec.pickled, "rb") as f:
                fn, items, check = cloudpickle.load(f)
        except (OSError, pickle.UnpicklingError, AttributeError, ImportError) as exc:
            raise DistlabError(f"{name}: cannot load {spec.pickled}: {exc}") from None
        return fn, list(items), check
    if spec.items is None:
        raise DistlabError(f"--function {spec.function} needs --items (a callable or a file)")
    fn = load_object(spec.function, "--function")
    shippable(fn, spec.function)
    check = load_object(spec.verify, "--verify") if spec.verify else None
    if check is not None and not callable(check):
        raise DistlabError(f"--verify {spec.verify} is not callable")
    items = load_items(spec.items)
    if not items:
        raise DistlabError(f"--items {spec.items} gave no items")
    return fn, items, check


def function_workload(name: str, spec: FunctionSpec) -> type[FunctionWorkload]:
    """The workload class of one user function (its name is the matrix row's name)."""
    description = f"your function {spec.function or name} over its items"
    return type(
        f"Function_{name}",
        (FunctionWorkload,),
        {"name": name, "spec": spec, "description": description},
    )


def workload_from_spec(spec: str) -> type[Workload]:
    """``module:Class`` (or ``file.py:Class``) naming a Workload subclass (the matrix
    knows it by that spec: :func:`distlab.workloads.create` names the instance so)."""
    cls = load_object(spec, "--workloads")
    if not (isinstance(cls, type) and issubclass(cls, Workload)):
        raise DistlabError(
            f"--workloads {spec}: not a distlab Workload class (subclass "
            "distlab.workloads.Workload, or use --function for a plain function)"
        )
    if not cls.sizes:
        raise DistlabError(f"--workloads {spec}: {cls.__name__}.sizes is empty")
    return cls
