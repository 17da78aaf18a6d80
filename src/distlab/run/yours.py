"""``distlab.compare(fn, items)``: your function in the matrix, from Python (a notebook,
a script), with the same results file and report as ``distlab run --function``."""

from __future__ import annotations

import datetime as _dt
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from distlab.contracts import TASKS, DistlabError
from distlab.run.repetitions import DEFAULT_REPEATS


def compare(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    engines: list[str] | None = None,
    *,
    verify: Callable[[Any, Any], bool] | None = None,
    name: str | None = None,
    workers: int | None = None,
    repeats: int = DEFAULT_REPEATS,
    addresses: dict[str, str] | None = None,
    out: str | Path | None = None,
    report: bool = True,
) -> dict[str, Any]:
    """Run ``[fn(x) for x in items]`` on each engine (default: every installed task
    engine), one task per item and batched; verify each against the sequential run
    (by equality, or ``verify(result, golden)``); measure; write ``out/results.json``
    and ``out/report.html``. Returns the results document (as ``results.json`` holds it).

    ``fn`` may be defined in ``__main__`` (a notebook, ``python -c``): it travels by
    value. A function from a module travels by reference: the module's directory is put
    on PYTHONPATH for every process distlab starts."""
    import cloudpickle

    from distlab import registry, results
    from distlab.run import matrix, validate
    from distlab.workloads import WORKLOADS
    from distlab.workloads.user import FunctionSpec, importable_everywhere, module_root, shippable

    name = name or getattr(fn, "__name__", "function")
    if name in WORKLOADS or not name.isidentifier():
        name = f"your_{name}" if name.isidentifier() else "your_function"
    shippable(fn, name)
    items = list(items)
    if not items:
        raise DistlabError("compare: no items")
    names = engines or [
        e for e in validate.default_engines() if TASKS in registry.engine_class(e).shapes
    ]
    out_dir = Path(out or Path("distlab-results") / _dt.datetime.now().strftime("%Y%m%d-%H%M%S"))
    results.writable_dir(out_dir, "out")
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    if module is not None and module.__name__ != "__main__":
        importable_everywhere(module_root(module.__name__, getattr(module, "__file__", None)))
    pickled = out_dir / f"function-{name}.pkl"
    try:
        pickled.write_bytes(cloudpickle.dumps((fn, items, verify)))
    except Exception as exc:
        raise DistlabError(f"compare: the items or verify cannot be pickled: {exc}") from None
    spec = matrix.RunSpec(
        engines=names,
        workloads=[name],
        repeats=repeats,
        workers=workers,
        addresses=addresses or {},
        functions={name: FunctionSpec(pickled=str(pickled.resolve())).to_dict()},
    )
    doc = matrix.run(spec, out_dir)
    if report:
        from distlab.report.html import build_report

        build_report(out_dir / "results.json", out_dir)
    return doc
