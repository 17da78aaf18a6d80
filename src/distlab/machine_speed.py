"""The machine's speed as one figure: a fixed CPU-bound reference timed at the start of a
run, so that runs from two machines can be compared with their speed difference shown
(machines of one kind differ by up to 2x; a ranking holds only within one run)."""

from __future__ import annotations

import time
from typing import Any

from distlab.probes import spin

#: the reference's work: rounds of integer arithmetic in one Python process
ROUNDS = 3_000_000
#: timings of the reference; the best is the figure (the least disturbed): from 3, two
#: runs back to back on one machine read 0.198 and 0.220 s
TIMINGS = 7
REFERENCE = f"{ROUNDS:,} rounds of integer arithmetic in one Python process (best of {TIMINGS})"


def measure() -> dict[str, Any]:
    """The reference timed TIMINGS times; its best is the figure (the least disturbed)."""
    samples = []
    for _ in range(TIMINGS):
        t = time.perf_counter()
        spin(ROUNDS)
        samples.append(time.perf_counter() - t)
    return {"reference": REFERENCE, "seconds": min(samples), "samples": samples}


def seconds(speed: Any) -> float | None:
    """A recorded speed figure's seconds (``speed``: a results file's
    ``environment.speed``, None for a file written before it existed)."""
    value = getattr(speed, "seconds", None)
    return float(value) if isinstance(value, int | float) and value > 0 else None


def text(speed: Any) -> str:
    """'machine speed: the reference took 0.31 s' (or that it was not measured)."""
    value = seconds(speed)
    if value is None:
        return "machine speed: not measured"
    return f"machine speed: the reference took {value:.2f} s ({REFERENCE})"


def difference(speed_a: Any, speed_b: Any) -> str | None:
    """How much slower or faster B's machine was than A's (their recorded speed figures),
    when both were measured and they differ by more than the reference's own noise (5%)."""
    a, b = seconds(speed_a), seconds(speed_b)
    if a is None or b is None:
        return None if a is None and b is None else "Only one run measured its machine's speed."
    ratio = b / a
    if abs(ratio - 1) <= 0.05:
        return None
    way = f"{ratio:.2f}x slower" if ratio > 1 else f"{1 / ratio:.2f}x faster"
    return (
        f"B's machine was {way} than A's (the speed reference took {a:.2f} s in A, "
        f"{b:.2f} s in B): the ratios below include that difference."
    )
