"""What an engine's sink emitted for a Nexmark query, against the golden.

Emissions are ``(key, value)`` pairs in the order the sink received them, repeats kept
(a de-duplicated dict would hide a window emitted twice). The semantics are those of
contracts/streams.py:

* ``FINAL``: every key emitted exactly once, with the golden value;
* ``LAST_IS_FINAL`` (update mode): a key may be emitted several times, its last
  emission is its value. Unlike the stream workload's check, no growth rule is applied
  between updates: a highest price or a join's row is not a running count that must rise.

q0, q1 and q2 keep no state, so their rows must be emitted exactly once in either mode.
The result names the keys missing, duplicated, wrong and extra, and one line saying so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from distlab.contracts.nexmark import Q5, Q7, QUERIES, STATELESS_QUERIES
from distlab.contracts.streams import FINAL, LAST_IS_FINAL, WINDOW_UPDATES

#: how long a value may be in the one-line detail before it is cut
LONGEST_SHOWN = 100


@dataclass(frozen=True)
class QueryCheck:
    """One query's emissions against its golden; ``detail`` is empty when they match."""

    query: str
    window_updates: str
    #: golden keys never emitted
    missing: tuple[Any, ...]
    #: keys emitted more than once where each must be emitted once
    duplicated: tuple[Any, ...]
    #: keys whose (last) emitted value differs from the golden
    wrong: tuple[Any, ...]
    #: keys emitted that the golden does not have
    extra: tuple[Any, ...]
    #: how many rows the golden has
    expected: int
    detail: str

    @property
    def ok(self) -> bool:
        return not self.detail


def check_query(
    query: str,
    emissions: Iterable[tuple[Any, Any]],
    want: dict[Any, Any],
    window_updates: str = FINAL,
) -> QueryCheck:
    """Compare ``emissions`` (``(key, value)`` in arrival order) with ``want``."""
    if query not in QUERIES:
        raise ValueError(f"unknown Nexmark query {query!r} (expected one of {QUERIES})")
    if window_updates not in WINDOW_UPDATES:
        raise ValueError(
            f"unknown window_updates {window_updates!r} (expected one of {WINDOW_UPDATES})"
        )
    emitted = list(emissions)
    times = Counter(key for key, _value in emitted)
    once_each = window_updates == FINAL or query in STATELESS_QUERIES
    duplicated = tuple(k for k, n in times.items() if n > 1) if once_each else ()
    last = dict(emitted)  # a later emission of a key replaces an earlier one
    missing = tuple(k for k in want if k not in last)
    extra = tuple(k for k in last if k not in want)
    wrong = tuple(k for k in want if k in last and last[k] != want[k])
    detail = _detail(query, window_updates, want, last, times, missing, duplicated, wrong, extra)
    return QueryCheck(query, window_updates, missing, duplicated, wrong, extra, len(want), detail)


def _detail(query, window_updates, want, last, times, missing, duplicated, wrong, extra) -> str:
    """One line: the counts, then one example of each kind of fault."""
    if not (missing or duplicated or wrong or extra):
        return ""
    mode = "each row once" if window_updates == FINAL else "last emission per key is final"
    if window_updates == LAST_IS_FINAL and query in STATELESS_QUERIES:
        mode = "each row once (no state, whatever the mode)"
    examples = []
    if missing:
        examples.append(f"missing {missing[0]!r}")
    if duplicated:
        examples.append(f"{duplicated[0]!r} emitted {times[duplicated[0]]} times")
    if wrong:
        key = wrong[0]
        examples.append(f"{key!r} got {_short(last[key])} want {_short(want[key])}")
    if extra:
        examples.append(f"extra {extra[0]!r}: {_short(last[extra[0]])}")
    # q5 and q7 have a row per window; the others a row per event or per window and person
    rows = "windows" if query in (Q5, Q7) else "rows"
    return (
        f"{query} ({mode}): {rows} {len(missing)} missing, {len(duplicated)} duplicated, "
        f"{len(wrong)} wrong, {len(extra)} extra (of {len(want)}); e.g. " + "; ".join(examples)
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= LONGEST_SHOWN else text[: LONGEST_SHOWN - 3] + "..."
