"""The verdict drawn from the glance matrix (distlab.report.glance): one sentence per shape
of work and the headline. A verdict is a statistical claim: only a row's star (the best
ahead of the runner-up at 95% confidence) counts as a win, and where no engine has more
wins than the others the sentence says "no clear pick"."""

from __future__ import annotations

import math

from distlab.report.glance import GlanceRow


def _geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def shape_sentences(rows: list[GlanceRow]) -> list[tuple[str, str, str | None]]:
    """One sentence per shape of work: (shape, sentence, the engine to pick or None). Only
    separated wins count (a star: the best ahead of the runner-up at 95%); a row whose
    best is within the noise is nobody's win. The pick is the engine with the most such
    wins, and there is none ("no clear pick") when no row of the shape has a star or two
    engines have as many. The sentence also names the other engines with a win, and ranks
    the engines that have a figure on every row by the geometric mean of their ratios to
    each row's best. Rows that rank nothing (a cached re-run, a refused request) are left
    out."""
    out = []
    shapes: dict[str, list[GlanceRow]] = {}
    for row in rows:
        if row.kind != "faults" and row.shape and row.race:
            shapes.setdefault(row.shape, []).append(row)
    for shape, group in shapes.items():
        ratios: dict[str, list[float]] = {}
        wins: dict[str, int] = {}
        for row in group:
            for name, gc in row.cells.items():
                if gc.ratio is not None and math.isfinite(gc.ratio):
                    ratios.setdefault(name, []).append(gc.ratio)
                    wins[name] = wins.get(name, 0) + gc.winner
        works = ", ".join(dict.fromkeys(r.workload for r in group))
        if not ratios:
            out.append((shape, f"{shape.capitalize()} ({works}): nothing verified.", None))
            continue
        complete = {n: _geomean(r) for n, r in ratios.items() if len(r) == len(group)}
        winners = sorted((n for n in wins if wins[n]), key=lambda n: -wins[n])
        pick = None
        if not winners:
            text = (
                f"{shape.capitalize()} ({works}): no clear pick: no engine is ahead of the "
                f"next at 95% confidence on any of the {len(group)} rows"
            )
        elif len(winners) > 1 and wins[winners[0]] == wins[winners[1]]:
            tied = [n for n in winners if wins[n] == wins[winners[0]]]
            text = (
                f"{shape.capitalize()} ({works}): no clear pick: "
                + " and ".join(tied)
                + f" are each clearly best on {wins[tied[0]]} of {len(group)} rows"
            )
        else:
            pick = winners[0]
            text = (
                f"{shape.capitalize()} ({works}): {pick} is clearly best on {wins[pick]} of "
                f"{len(group)} rows"
            )
            if winners[1:]:
                text += " (also: " + ", ".join(f"{n} on {wins[n]}" for n in winners[1:]) + ")"
        if len(complete) > 1:
            order = sorted(complete, key=complete.get)
            listing = ", ".join(f"{n} {complete[n]:.1f}x" for n in order)
            text += f"; on every row, relative to the best (geometric mean): {listing}"
        out.append((shape, text + ".", pick))
    return out


def headline(rows: list[GlanceRow]) -> str:
    """The recommendation in one sentence: per shape of work, the engine with the most
    separated wins, or "no clear pick"."""
    sentences = shape_sentences(rows)
    if not sentences:
        return "No engine has a verified figure on any row."
    parts = [f"{best} for {shape}" if best else f"no clear pick for {shape}"
             for shape, _text, best in sentences]  # fmt: skip
    return "On this machine: " + "; ".join(parts) + "."
