"""Which engine for which work, derived only from the measured numbers in a results document.

Every sentence here is computed: a winner is named only when an exact Mann-Whitney test
over the repetitions says, at 95% confidence (two-sided p <= 0.05), that it is faster
than the runner-up, and every one of its repetitions is more than 10% faster than every
one of the runner-up's. Ranges apart with too few repetitions for the test to ever say so
are "tentative" in words (no star anywhere); otherwise the engines are reported as tied. Caveats (NumPy beat every engine,
distribution did not pay, unstable or failed cells) come from the same numbers.

The figures themselves (which cells count, their full-workload times) are read through
``distlab.report.figures``; the plain facts beside the verdicts (start-up, latency,
throughput, memory) are stated by ``distlab.report.facts``. ``findings`` gathers all.
"""

from __future__ import annotations

import math

from distlab.report.facts import (
    Finding,
    latency_findings,
    memory_findings,
    startup_findings,
    throughput_findings,
)
from distlab.report.figures import (
    batch_size,
    by_work,
    elements,
    extrapolated_full_s,
    fmt_full,
    fmt_s,
    fmt_x,
    full_median,
    full_range,
    headline,
    is_race,
    label,
    measured,
    per_task_s,
    reference_median,
    shape_of,
    wall_samples,
)
from distlab.report.streams import ceiling_rate
from distlab.stats import mann_whitney_p, min_possible_p

ALPHA = 0.05
#: how far apart (the slower's fastest repetition over the faster's slowest) two cells
#: must be besides the test for a "clear" verdict: beyond the 10% of the best's own colour
#: class. A significant 2% lead is real within one run and gone in the next (the machine's
#: state shifts whole runs by a few percent): it is no reason to pick an engine.
CLEAR_MARGIN = 1.10


# ---- the comparison of two engines on one piece of work ----------------------------------


def separate(faster: dict, slower: dict) -> tuple[str, float]:
    """How the faster cell stands against the slower: 'clear' (the test says so at 95%,
    and their repetitions are more than 10% apart), 'tentative' (every repetition apart,
    too few for the test to ever say so) or 'tie', and p. Only 'clear' earns a star."""
    fa, sl = wall_samples(faster), wall_samples(slower)
    p = mann_whitney_p(fa, sl)
    ra, rb = full_range(faster), full_range(slower)
    if ra is None or rb is None or (full_median(faster) or 0) >= (full_median(slower) or 0):
        return "tie", p
    if p <= ALPHA and rb[0] >= ra[1] * CLEAR_MARGIN:
        return "clear", p
    overlap = ra[1] >= rb[0]
    if overlap:
        return "tie", p
    # Ranges apart, but too few repetitions for the test to ever reach ALPHA.
    if min_possible_p(len(fa), len(sl)) > ALPHA:
        return "tentative", p
    return "tie", p


def winners(doc: dict) -> list[Finding]:
    out = []
    for (workload, variant), cells in by_work(list(filter(is_race, measured(doc)))).items():
        ranked = sorted(cells, key=full_median)
        best = ranked[0]
        what = label(best)
        t_best = full_median(best)
        if len(ranked) == 1:
            out.append(
                Finding(
                    "only",
                    f"{what}: only {best.engine} has a verified time "
                    f"({fmt_full(best, t_best)}); nothing to compare it with.",
                    workload,
                    variant,
                    {"engine": best.engine, "median_s": t_best},
                )
            )
            continue
        runner_up = ranked[1]
        t_next = full_median(runner_up)
        margin = t_next / t_best if t_best else math.inf
        verdict, p = separate(best, runner_up)
        n1, n2 = len(wall_samples(best)), len(wall_samples(runner_up))
        figures = {
            "engine": best.engine,
            "runner_up": runner_up.engine,
            "median_s": t_best,
            "runner_up_s": t_next,
            "margin": margin,
            "p": p,
            "n": [n1, n2],
            "ranking": [(c.engine, full_median(c)) for c in ranked],
        }
        if verdict == "clear":
            text = (
                f"{what}: {best.engine} is fastest ({fmt_full(best, t_best)}), "
                f"{margin:.2f}x ahead of {runner_up.engine} ({fmt_full(runner_up, t_next)}; "
                f"Mann-Whitney p={p:.3f}, n={n1}/{n2})."
            )
        elif verdict == "tentative":
            text = (
                f"{what}: {best.engine} ({fmt_full(best, t_best)}) beat {runner_up.engine} "
                f"({fmt_full(runner_up, t_next)}, {margin:.2f}x) in every repetition, but {n1}/{n2} "
                f"repetitions cannot reach p<{ALPHA} (p={p:.3f}): run more repetitions "
                "to confirm."
            )
        else:
            tied = [c.engine for c in ranked[1:] if separate(best, c)[0] == "tie"]
            text = (
                f"{what}: no clear winner: {' and '.join([best.engine, *tied])} are within "
                f"the noise ({fmt_full(best, t_best)} vs {fmt_s(t_next)}; min-max ranges overlap or "
                f"p={p:.2f} > {ALPHA})."
            )
            figures["tied"] = [best.engine, *tied]
        out.append(
            Finding("winner" if verdict == "clear" else verdict, text, workload, variant, figures)
        )
    return out


def stream_rankings(doc: dict) -> list[Finding]:
    """Streams are ranked by what they achieved, never by wall time: a sweep by its
    highest sustained rate (higher is better), a fixed-rate run by its p99 latency at the
    offered rate (lower is better)."""
    out = []
    streams = [c for c in measured(doc) if shape_of(c.workload) == "streams"]
    for (workload, variant), cells in by_work(streams).items():
        rated = [(c, headline(c)) for c in cells]
        name = rated[0][1]["name"]
        known = [(c, h["value"]) for c, h in rated if h["value"] is not None]
        none = [c.engine for c, h in rated if h["value"] is None]
        if not known:
            continue
        higher = rated[0][1]["higher_is_better"]
        known.sort(key=lambda cv: -cv[1] if higher else cv[1])
        listing = ", ".join(f"{c.engine} {v:,.0f}" for c, v in known)
        text = f"{label(known[0][0])}: best {name}: {known[0][0].engine}; {listing}."
        if none:
            text += f" Sustained nothing: {', '.join(none)}."
        ceiling = ceiling_rate(doc)
        if ceiling and higher:
            shares = ", ".join(f"{c.engine} {v / ceiling:.0%}" for c, v in known)
            text += (
                f" The raw pipe (the same sender, broker and reader with only a copy loop "
                f"between: the ceiling here) sustained {ceiling:,.0f}; as a share of it: "
                f"{shares}."
            )
        figures = {"ranking": [(c.engine, v) for c, v in known], "figure": name}
        out.append(Finding("stream", text, workload, variant, figures))
    return out


def by_shape(doc: dict) -> list[Finding]:
    """Per shape of work: how often each engine was fastest, and its time relative to the best."""
    groups = by_work(list(filter(is_race, measured(doc))))
    shapes: dict[str, list[list[dict]]] = {}
    for (workload, _), cells in groups.items():
        shape = shape_of(workload)
        if shape and len({c.engine for c in cells}) > 1:
            shapes.setdefault(shape, []).append(cells)
    out = []
    for shape, cell_groups in sorted(shapes.items()):
        ratios: dict[str, list[float]] = {}
        wins: dict[str, int] = {}
        for cells in cell_groups:
            best = min(full_median(c) for c in cells)
            for c in cells:
                ratios.setdefault(c.engine, []).append(full_median(c) / best if best else 1.0)
            fastest = min(cells, key=full_median).engine
            wins[fastest] = wins.get(fastest, 0) + 1
        total = len(cell_groups)
        # only engines measured on every piece of work of this shape are ranked
        complete = {e: r for e, r in ratios.items() if len(r) == total}
        if not complete:
            continue
        geo = {e: math.exp(sum(math.log(x) for x in r) / len(r)) for e, r in complete.items()}
        order = sorted(geo, key=geo.get)
        ranking = ", ".join(f"{e} {geo[e]:.2f}x" for e in order)
        top = order[0]
        text = (
            f"{shape} work ({total} workload/variant pairs): {top} was fastest in "
            f"{wins.get(top, 0)} of {total}; time relative to the fastest per pair "
            f"(geometric mean): {ranking}."
        )
        missing = sorted(set(ratios) - set(complete))
        if missing:
            text += f" Not ranked (not measured on every pair): {', '.join(missing)}."
        out.append(Finding("shape", text, figures={"shape": shape, "geomean": geo, "wins": wins}))
    return out


# ---- caveats ------------------------------------------------------------------------------


def numpy_caveats(doc: dict) -> list[Finding]:
    out = []
    by_workload: dict[str, list[dict]] = {}
    for c in measured(doc):
        by_workload.setdefault(c.workload, []).append(c)
    for workload, cells in by_workload.items():
        t_numpy = reference_median(doc, workload, "numpy")
        if t_numpy is None:
            continue
        fastest = min(cells, key=full_median)
        t_fast = full_median(fastest)
        if t_numpy < t_fast:
            out.append(
                Finding(
                    "numpy",
                    f"{workload}: vectorized NumPy on one core ({fmt_s(t_numpy)}) beat every "
                    f"engine here; the fastest engine run, {fastest.engine} on {label(fastest)}, "
                    f"took {t_fast / t_numpy:,.0f}x as long.",
                    workload,
                    figures={"numpy_s": t_numpy, "fastest_s": t_fast, "engine": fastest.engine},
                )
            )
    return out


def no_gain_caveats(doc: dict) -> list[Finding]:
    out = []
    for (workload, variant), cells in by_work(measured(doc)).items():
        slow = [c for c in cells if c.speedup is not None and c.speedup < 1]
        if not slow:
            continue
        t_seq = reference_median(doc, workload, "sequential")
        names = ", ".join(f"{c.engine} {fmt_x(c.speedup)}" for c in slow)
        out.append(
            Finding(
                "no_gain",
                f"{label(slow[0])}: distribution did not pay: the sequential loop "
                f"({fmt_s(t_seq)}) was faster than {names} (speed-up < 1).",
                workload,
                variant,
                {"engines": {c.engine: c.speedup for c in slow}, "sequential_s": t_seq},
            )
        )
    return out


def granularity_caveats(doc: dict) -> list[Finding]:
    """Per-element against batched submission of the same work, per engine."""
    out = []
    cells = measured(doc)
    for c in cells:
        if c.variant != "per_element":
            continue
        batched = [
            b
            for b in cells
            if b.engine == c.engine and b.workload == c.workload and batch_size(b)
        ]
        if not batched:
            continue
        best = min(batched, key=full_median)
        t_elem, t_batch = full_median(c), full_median(best)
        full = extrapolated_full_s(c)
        full = t_elem if full is None else full
        per_task = per_task_s(c)
        count = elements(c)
        text = (
            f"{c.workload} on {c.engine}: one task per element would take ~{fmt_s(full)} "
            f"for the full data (extrapolated from {'?' if count is None else count} elements"
            + (f", {per_task * 1e3:.2f} ms per task" if per_task else "")
            + f"); batches of {batch_size(best)} took "
            f"{fmt_s(t_batch)}: {t_elem / t_batch:,.0f}x faster."
        )
        out.append(
            Finding(
                "granularity",
                text,
                c.workload,
                figures={"engine": c.engine, "per_element_s": t_elem, "batched_s": t_batch},
            )
        )
    return out


def quality_caveats(doc: dict) -> list[Finding]:
    out = []
    cells = doc.cells
    failed = [c for c in cells if c.status == "failed"]
    if failed:
        names = ", ".join(f"{c.engine}/{label(c)}" for c in failed)
        out.append(
            Finding(
                "failed",
                f"{len(failed)} cell(s) failed and are left out of every comparison: {names}.",
            )
        )
    wrong = [c for c in cells if c.status == "ok" and not c.verified]
    if wrong:
        names = ", ".join(f"{c.engine}/{label(c)}" for c in wrong)
        out.append(
            Finding(
                "unverified",
                f"{len(wrong)} cell(s) gave an answer that did not verify and are left out: "
                f"{names}.",
            )
        )
    unstable = [c for c in measured(doc) if (c.wall or {}).get("unstable")]
    if unstable:
        names = ", ".join(f"{c.engine}/{label(c)}" for c in unstable)
        out.append(
            Finding(
                "unstable",
                f"Unstable timings (relative stdev > 10%), read with care: {names}.",
            )
        )
    few = {len(wall_samples(c)) for c in measured(doc)}
    if few and max(few) and min_possible_p(max(few), max(few)) > ALPHA:
        out.append(
            Finding(
                "repetitions",
                f"With {max(few)} repetitions per cell no difference can be statistically "
                f"significant (smallest possible p={min_possible_p(max(few), max(few)):.3f}); "
                "use --repeats 4 or more for firm verdicts.",
            )
        )
    return out


def findings(doc: dict) -> dict[str, list[Finding]]:
    """All derived statements, by section."""
    return {
        "winners": winners(doc) + stream_rankings(doc),
        "shapes": by_shape(doc),
        "caveats": numpy_caveats(doc)
        + no_gain_caveats(doc)
        + granularity_caveats(doc)
        + quality_caveats(doc),
        "other": startup_findings(doc)
        + latency_findings(doc)
        + throughput_findings(doc)
        + memory_findings(doc),
    }
