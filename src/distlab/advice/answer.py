"""The advice as the user reads it: the recommendation with its measured speed-up and
interval, the runner-up, or "stay on one process"; the code to run it with distlab and
in the engine's own API; and the model's predictions beside the measurements.

A recommendation is a verdict and carries the matrix's statistics: the speed-up over the
plain loop is the Hodges-Lehmann ratio of the loop's runs to the configuration's, with
the Mann-Whitney interval and the coverage its sample counts allow (distlab.stats).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distlab.advice.model import EngineCosts
from distlab.advice.profile import Profile, human_s
from distlab.advice.race import Trial
from distlab.stats import mann_whitney_p, ratio_interval

#: the pool that needs nothing but the standard library
POOL = "local"


@dataclass(frozen=True)
class SpeedUp:
    """How many times faster than the plain loop, with its interval and coverage."""

    estimate: float
    low: float
    high: float
    coverage: float

    def text(self) -> str:
        if self.coverage <= 0:
            return f"{self.estimate:.2f}x (one run each: no interval)"
        return (
            f"{self.estimate:.2f}x [{self.low:.2f}-{self.high:.2f}] ({self.coverage:.0%} interval)"
        )


def speed_up(loop: Trial, trial: Trial) -> SpeedUp:
    return SpeedUp(*ratio_interval(loop.samples, trial.samples))


@dataclass
class Advice:
    """Everything ``distlab advise`` found, and the sentences and code it prints."""

    profile: Profile
    trials: list[Trial]
    costs: list[EngineCosts]
    skipped: dict[str, str]
    #: predicted configurations that were not run: the model said they could not win
    not_run: int
    model_error: float
    recommended: Trial
    runner_up: Trial | None
    speed_up: SpeedUp | None
    #: True: nothing beat the plain loop; the advice is to stay on one process
    stay: bool
    verdict: str
    code: str
    native: str
    took_s: float = 0.0
    lines: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile.to_dict(),
            "trials": [t.to_dict() for t in self.trials],
            "costs": [c.to_dict() for c in self.costs],
            "skipped": self.skipped,
            "not_run": self.not_run,
            "model_error": self.model_error,
            "recommended": self.recommended.to_dict(),
            "runner_up": self.runner_up.to_dict() if self.runner_up else None,
            "speed_up": self.speed_up.__dict__ if self.speed_up else None,
            "stay": self.stay,
            "verdict": self.verdict,
            "code": self.code,
            "native": self.native,
            "took_s": self.took_s,
        }

    def text(self) -> str:
        return "\n".join(self.lines)


def decide(
    profile: Profile,
    trials: list[Trial],
    break_even: dict[str, float],
) -> tuple[Trial, Trial | None, SpeedUp | None, bool, str]:
    """(recommended, runner-up, its speed-up, stay on one process, the verdict's text),
    from the measurements alone: the model chose what ran, never what wins."""
    ranked = sorted((t for t in trials if t.counts), key=lambda t: t.median or 0.0)
    loop = next(t for t in trials if t.config.is_loop)
    best = ranked[0]
    runner = ranked[1] if len(ranked) > 1 else None
    if best.config.is_loop:
        return best, runner, None, True, _stay(profile, loop, runner, break_even)
    gain = speed_up(loop, best)
    if gain.low <= 1.0:
        return (
            best,
            runner,
            gain,
            True,
            (
                f"stay on one process: the best configuration, {best.config.label()}, is "
                f"{gain.text()} faster than the plain loop: not told apart from it"
            ),
        )
    pool = [t for t in ranked if t.config.engine == POOL]
    if best.config.engine == POOL:
        where = "the standard library's process pool is enough on this machine"
    elif pool:
        where = f"the process pool's best here took {pool[0].median or 0:.3f} s"
    else:
        where = "the process pool was not measured"
    text = f"use {best.config.label()}: {gain.text()} faster than the plain loop; {where}"
    if runner is not None:
        p = mann_whitney_p(best.samples, runner.samples)
        apart = "told apart" if p <= 0.05 else "not told apart"
        text += (
            f"\nrunner-up: {runner.config.label()}, {runner.median or 0:.3f} s against "
            f"{best.median or 0:.3f} s (Mann-Whitney p={p:.2f}: {apart})"
        )
    return best, runner, gain, False, text


def _stay(profile: Profile, loop: Trial, runner: Trial | None, break_even: dict) -> str:
    task = human_s(profile.item_s)
    if break_even and all(profile.item_s < b for b in break_even.values()):
        below = min(break_even.values()) / profile.item_s
        each = ", ".join(f"{e} {human_s(b)}" for e, b in break_even.items())
        return (
            f"stay on one process: tasks of {task} are {below:.0f}x below the break-even of "
            f"every engine here ({each}), and no chunk size measured beat the plain loop"
        )
    best_other = (
        f"; the closest, {runner.config.label()}, took {runner.median:.3f} s"
        if (runner and runner.median)
        else ""
    )
    return (
        f"stay on one process: no configuration beat the plain loop "
        f"({loop.median or 0:.3f} s){best_other}"
    )


def distlab_code(
    trial: Trial, fn_ref: tuple[str, str], items_ref: str | None, address: str | None = None
) -> str:
    """The recommended map with distlab (on the cluster at ``address``, if given)."""
    c = trial.config
    name = fn_ref[1]
    chunk = f", chunksize={c.chunk}" if c.chunk > 1 else ""
    where = f'address="{address}"' if address else f"workers={c.workers}"
    return _script(
        ["import distlab"],
        fn_ref,
        items_ref,
        "",
        [
            f'with distlab.engine("{c.engine}", {where}) as ex:',
            f"    results = ex.map({name}, items{chunk})",
        ],
    )


def native_code(
    trial: Trial, fn_ref: tuple[str, str], items_ref: str | None, address: str | None = None
) -> str:
    """The same map in the engine's own API, so the user can leave distlab behind (on
    the cluster at ``address``, if given)."""
    c = trial.config
    name = fn_ref[1]
    chunks = f"chunks = [items[i : i + {c.chunk}] for i in range(0, len(items), {c.chunk})]"
    run_chunk = f"def run_chunk(chunk):\n    return [{name}(x) for x in chunk]\n\n\n"
    if c.engine == "local":
        return _script(
            ["from concurrent.futures import ProcessPoolExecutor"],
            fn_ref,
            items_ref,
            "",
            [
                f"with ProcessPoolExecutor(max_workers={c.workers}) as pool:",
                f"    results = list(pool.map({name}, items, chunksize={c.chunk}))",
            ],
        )
    if c.engine == "dask":
        cluster = (
            f'with Client("{address}") as client:'
            if address
            else f"with LocalCluster(n_workers={c.workers}, threads_per_worker=1, "
            "processes=True) as cluster, Client(cluster) as client:"
        )
        if c.chunk == 1:
            body = [
                f"    futures = client.map({name}, items, pure=False)",
                "    results = client.gather(futures)",
            ]
        else:
            body = [
                f"    {chunks}",
                "    futures = client.map(run_chunk, chunks, pure=False)",
                "    results = [r for part in client.gather(futures) for r in part]",
            ]
        # Dask serializes a returned plain list element by element (seconds for 10^5
        # ints); a list subclass travels as one pickle
        whole = (
            "class Results(list):\n"
            '    """One object on the wire (Dask sends a plain list item by item)."""\n\n\n'
            f"def run_chunk(chunk):\n    return Results({name}(x) for x in chunk)\n\n\n"
        )
        defs = "" if c.chunk == 1 else whole
        imports = ["from dask.distributed import Client, LocalCluster"]
        return _script(imports, fn_ref, items_ref, defs, [cluster, *body])
    if c.engine == "ray":
        if c.chunk == 1:
            body = [
                f"remote_fn = ray.remote({name})",
                "results = ray.get([remote_fn.remote(x) for x in items])",
            ]
            defs = ""
        else:
            body = [
                chunks,
                "results = [r for part in ray.get([run_chunk.remote(c) for c in chunks]) "
                "for r in part]",
            ]
            defs = "@ray.remote\n" + run_chunk
        init = f'ray.init(address="{address}")' if address else f"ray.init(num_cpus={c.workers})"
        return _script(["import ray"], fn_ref, items_ref, defs, [init, *body])
    return f"# no native code for {c.engine} here: use the distlab code above"


def _script(
    imports: list[str], fn_ref: tuple[str, str], items_ref: str | None, defs: str, body: list[str]
) -> str:
    """A whole script: imports, the function's import, ``defs``, then the items and
    ``body`` under the main guard (process pools and clusters start processes that
    import the script again; the items are made once, in the driver)."""
    module, name = fn_ref
    lines = list(imports)
    if module and module != "__main__":
        lines.append(f"from {module} import {name}")
    else:
        lines.append(f"# {name}: your function (defined in __main__)")
    items_line = f"items = ...  # your items{f' ({items_ref})' if items_ref else ''}"
    if items_ref and ":" in items_ref:
        source_module, _, source = items_ref.rpartition(":")
        if source_module.endswith(".py"):  # a file: imported by its plain name
            source_module = Path(source_module).stem
        lines.append(f"from {source_module} import {source}")
        items_line = f"items = list({source}() if callable({source}) else {source})"
    head = "\n".join(lines) + "\n\n\n" + defs
    if not defs:
        head = head.rstrip("\n") + "\n\n"
    return (
        head
        + 'if __name__ == "__main__":\n'
        + "\n".join(f"    {line}" for line in [items_line, *body])
    )


def table(trials: list[Trial]) -> list[str]:
    """Predicted against measured, for every configuration that ran."""
    rows = [("configuration", "predicted", "measured", "runs", "off by", "status")]
    for t in trials:
        measured = (
            f"{t.median:.3f} s"
            if t.samples
            else (f">{t.at_least_s:.3f} s" if t.at_least_s else "-")
        )
        spread = f" [{min(t.samples):.3f}-{max(t.samples):.3f}]" if len(t.samples) > 1 else ""
        off = t.error
        way = ""
        if off is not None and t.measured_s:
            way = " (slower)" if t.measured_s > t.predicted_s else " (faster)"
        rows.append(
            (
                t.config.label(),
                f"{t.predicted_s:.3f} s",
                measured + spread,
                str(len(t.samples)),
                f"{off:.2f}x{way}" if off is not None else "-",
                t.status + (f": {t.note}" if t.note else ""),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]
            for r in rows]  # fmt: skip
