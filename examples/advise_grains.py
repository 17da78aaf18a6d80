"""Three functions of different grain for `distlab advise` (README, "Advice for your
own function"): about 50 us, 20 ms and 2 s of pure-Python arithmetic per item on a
machine of speed figure ~0.18 s (the iteration counts are fixed; the advice measures
what they take here).

    distlab advise examples/advise_grains.py:tiny --items examples/advise_grains.py:tiny_items
    distlab advise examples/advise_grains.py:medium --items examples/advise_grains.py:medium_items
    distlab advise examples/advise_grains.py:slow --items examples/advise_grains.py:slow_items
"""

from __future__ import annotations

import numpy as np


def spin(seed: int, rounds: int) -> int:
    """``rounds`` steps of integer arithmetic: CPU time that holds the GIL."""
    s = seed
    for i in range(rounds):
        s = (s * 31 + i) % 1_000_003
    return s


def tiny(x: int) -> int:
    """About 50 us."""
    return spin(x, 500)


def tiny_items() -> range:
    return range(1_000_000)


def medium(x: int) -> int:
    """About 20 ms."""
    return spin(x, 200_000)


def medium_items() -> range:
    return range(2_000)


def slow(item: tuple[int, np.ndarray]) -> float:
    """About 2 s, reading a 50 MB array it is handed with each item."""
    seed, table = item
    return spin(seed, 20_000_000) + float(table[seed::4096].sum())


def slow_items() -> list[tuple[int, np.ndarray]]:
    table = np.arange(50_000_000 // 8, dtype=np.float64)  # 50 MB, the same array each time
    return [(i, table) for i in range(40)]
