"""``distlab advise``: which engine, chunk size and worker count for YOUR function over
YOUR items, measured in one command.

In order, and nothing started before the input is known to be good:

1. check: the function can be pickled, the items can be listed, every engine named
   exists (one line, exit 2, otherwise);
2. profile the function on a sample of the items (distlab.advice.profile; a call that
   raises is the same one line);
3. run the plain loop: the answer every configuration is checked against, and the time
   each must beat;
4. per engine: start it, calibrate it (distlab.advice.model), race the configurations
   the model finds promising (distlab.advice.race);
5. answer from the measurements (distlab.advice.answer).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from distlab.advice.answer import Advice, decide, distlab_code, native_code, table
from distlab.advice.model import Model
from distlab.advice.profile import measure
from distlab.advice.race import Race, same
from distlab.advice.recent import bench_task_cost
from distlab.contracts import TASKS, DistlabError
from distlab.contracts.errors import error_line

#: the engines advised on when none are named, in this order, those installed: the
#: standard library's pool (the bar every engine must clear) and the two task engines
#: that start in seconds; others (celery, dramatiq, ...) when asked for with engines=
SHORTLIST = ("local", "dask", "ray")

ModelFactory = Callable[..., Model]


def advise(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    engines: list[str] | None = None,
    workers: list[int] | None = None,
    *,
    verify: Callable[[Any, Any], Any] | None = None,
    model: ModelFactory = Model,
    say: Callable[[str], None] | None = None,
    items_ref: str | None = None,
    addresses: dict[str, str] | None = None,
    engine_options: dict[str, dict[str, Any]] | None = None,
    history: Path | None = None,
) -> Advice:
    """Advise how to run ``[fn(x) for x in items]``: profile, predict, race, answer.

    ``engines``: task engines to consider (default: those of SHORTLIST installed);
    ``workers``: worker counts to try (default: the CPU count); ``verify(result,
    golden) -> bool`` for results not compared by equality; ``model``: the class (or
    factory) of the cost model, called with the profile and an empty dict of engine
    costs; ``say``: called with each progress line; ``items_ref``: how the items were
    given (``module:name``), for the printed code; ``addresses``: engine -> the address
    of a running cluster to advise on (its workers are what it has), with
    ``engine_options`` the options it needs (e.g. a Celery queue); ``history``: the
    history file whose recent ``bench tiny-tasks`` may stand in for the calibration's
    per-task cost (None: always measure)."""
    began = time.perf_counter()
    from distlab.workloads.user import importable_everywhere, judged, module_root, shippable

    name = getattr(fn, "__name__", None) or "function"
    shippable(fn, name)
    try:
        items = list(items)
    except Exception as exc:
        raise DistlabError(f"the items cannot be listed: {error_line(exc)}") from None
    if not items:
        raise DistlabError("no items to advise on")
    addresses = addresses or {}
    engine_options = engine_options or {}
    # with clusters to advise on, the standard library's pool here stays the bar
    asked = [*(engines or (SHORTLIST[:1] if addresses else ())), *addresses]
    names = _engines(asked or None)
    counts = _workers(workers)
    module_name = getattr(fn, "__module__", "") or ""
    module = sys.modules.get(module_name)
    if module is not None and module_name != "__main__":
        # the workers import it by name, as `distlab run --function` has them do
        importable_everywhere(module_root(module_name, getattr(module, "__file__", None)))
    tell = say or (lambda line: None)
    profile = measure(fn, items, name)
    lines = [f"profile: {profile.summary()}"]
    tell(lines[0])

    def check(result: list[Any], golden: list[Any]) -> bool:
        if verify is None:
            return same(result, golden)
        try:
            return judged(verify(result, golden))[0]
        except AssertionError:
            return False

    cost_model = model(profile, {})
    race = Race(fn, items, cost_model, check, lambda line: (lines.append(line), tell(line)))
    race.run_loop()
    from distlab.registry import create

    for engine_name in names:
        address = addresses.get(engine_name)
        options = engine_options.get(engine_name, {})
        for count in [0] if address else counts:  # a cluster has the workers it has

            def start(e=engine_name, w=count, a=address, o=options):
                return create(e, address=a, workers=w or None, **o).start()

            def known(w: int, e=engine_name, a=address) -> tuple[float, str] | None:
                return None if a else bench_task_cost(e, w, history)

            race.run_engine(engine_name, count, start, known)
    ran = {t.config for t in race.trials}
    predicted = [c for k in race.costs for c in cost_model.configs(k.engine, k.workers)]
    not_run = len([c for c in predicted if c not in ran])
    break_even: dict[str, float] = {}  # per engine, at its most favourable worker count
    for k in race.costs:
        here = cost_model.break_even_s(k.engine, k.workers)
        break_even[k.engine] = min(here, break_even.get(k.engine, here))
    fn_ref = (module_name, name)
    best, runner, gain, stay, verdict = decide(profile, race.trials, break_even)
    error = race.error()
    where = addresses.get(best.config.engine)
    code = distlab_code(best, fn_ref, items_ref, where)
    native = native_code(best, fn_ref, items_ref, where)
    lines += [
        "",
        f"predicted against measured (the model's worst error: {error:.2f}x; "
        f"{not_run} more configurations were predicted and not run: allowing for that "
        "error, the model put them behind the best measured):",
        *(f"  {row}" for row in table(race.trials)),
        *(f"  {e}: not advised on: {why}" for e, why in race.skipped.items()),
        "",
        *verdict.splitlines(),
    ]
    if not stay:  # no code for what was not told apart from the plain loop
        lines += ["", "with distlab:", *_indent(code)]
        lines += ["", f"the same in {best.config.engine}'s own API:", *_indent(native)]
    took = time.perf_counter() - began
    lines += ["", f"advice took {took:.1f} s"]
    return Advice(
        profile=profile,
        trials=race.trials,
        costs=race.costs,
        skipped=race.skipped,
        not_run=not_run,
        model_error=error,
        recommended=best,
        runner_up=runner,
        speed_up=gain,
        stay=stay,
        verdict=verdict,
        code=code,
        native=native,
        took_s=took,
        lines=lines,
    )


def _engines(engines: list[str] | None) -> list[str]:
    from distlab import registry
    from distlab.run import validate

    installed = validate.default_engines()
    if not engines:
        return [e for e in SHORTLIST if e in installed]
    for e in engines:
        if e not in registry.ENGINES:
            raise DistlabError(f"unknown engine {e!r} (known: {', '.join(registry.ENGINES)})")
        if e not in installed:
            raise DistlabError(f"engine {e!r} is not installed (see `distlab doctor`)")
        if TASKS not in registry.engine_class(e).shapes:
            raise DistlabError(f"engine {e!r} does not run tasks: nothing to advise on it")
    return list(dict.fromkeys(engines))


def _workers(workers: list[int] | None) -> list[int]:
    counts = workers or [os.cpu_count() or 1]
    if any(w < 1 for w in counts):
        raise DistlabError(f"workers must be 1 or more, not {counts}")
    return list(dict.fromkeys(counts))


def _indent(text: str) -> list[str]:
    return [f"    {line}" if line else "" for line in text.splitlines()]
