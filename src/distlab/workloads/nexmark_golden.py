"""The golden answer of each Nexmark query, in plain Python, from the same events an
engine is sent (computed before and outside any timed region).

Every answer is ``{key: value}``, one entry per row the sink must end with; what a key
and a value are per query is in :mod:`distlab.contracts.nexmark`:

* q0 ``event_id -> record``
* q1 ``event_id -> Bid`` with its price in euros
* q2 ``event_id -> (auction, price)``
* q5 ``window_end_ms -> (highest count, (auction ids with that count, ascending))``
* q7 ``window_start_ms -> (highest price, ((auction, bidder, date_time) of every bid at
  that price, ascending))``
* q8 ``(window_start_ms, person id) -> person name``
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from distlab.contracts.nexmark import (
    EUROS_PER_DOLLAR,
    Q0,
    Q1,
    Q2,
    Q2_AUCTION_MODULUS,
    Q5,
    Q7,
    Q8,
    Auction,
    Bid,
    NexmarkEvent,
    NexmarkSpec,
    Person,
    sliding_ends,
    tumbling_start,
)
from distlab.contracts.nexmark_generator import generate

Golden = dict[Any, Any]


def pass_through(events: Iterable[NexmarkEvent]) -> Golden:
    """q0: every event as it came."""
    return {e.event_id: e.record for e in events}


def in_euros(price: int) -> int:
    """q1's conversion, in integers (rounded down) so that every engine can match it."""
    numerator, denominator = EUROS_PER_DOLLAR
    return price * numerator // denominator


def currency_conversion(events: Iterable[NexmarkEvent]) -> Golden:
    """q1: every bid, its price in euros."""
    return {
        e.event_id: dataclasses.replace(e.record, price=in_euros(e.record.price))
        for e in events
        if isinstance(e.record, Bid)
    }


def selection(events: Iterable[NexmarkEvent]) -> Golden:
    """q2: (auction, price) of the bids on every 123rd auction."""
    return {
        e.event_id: (e.record.auction, e.record.price)
        for e in events
        if isinstance(e.record, Bid) and e.record.auction % Q2_AUCTION_MODULUS == 0
    }


def hot_items(events: Iterable[NexmarkEvent], window_ms: int, slide_ms: int) -> Golden:
    """q5: per sliding window (by its end) the highest bid count of an auction and every
    auction with that count (Nexmark keeps ties: all auctions at the maximum)."""
    counts: dict[int, Counter[int]] = defaultdict(Counter)
    for e in events:
        if isinstance(e.record, Bid):
            for end in sliding_ends(e.date_time, window_ms, slide_ms):
                counts[end][e.record.auction] += 1
    out: Golden = {}
    for end, per_auction in counts.items():
        top = max(per_auction.values())
        out[end] = (top, tuple(sorted(a for a, n in per_auction.items() if n == top)))
    return out


def highest_bid(events: Iterable[NexmarkEvent], window_ms: int) -> Golden:
    """q7: per tumbling window (by its start) the highest price and every bid at it."""
    bids: dict[int, list[Bid]] = defaultdict(list)
    for e in events:
        if isinstance(e.record, Bid):
            bids[tumbling_start(e.date_time, window_ms)].append(e.record)
    out: Golden = {}
    for start, window in bids.items():
        top = max(b.price for b in window)
        at_top = sorted((b.auction, b.bidder, b.date_time) for b in window if b.price == top)
        out[start] = (top, tuple(at_top))
    return out


def new_users(events: Iterable[NexmarkEvent], window_ms: int) -> Golden:
    """q8: the persons who opened an auction in the tumbling window they were created in
    (one row per person and window, however many auctions they opened)."""
    names: dict[tuple[int, int], str] = {}  # (window start, person id) -> name
    sellers: set[tuple[int, int]] = set()  # (window start, seller id)
    for e in events:
        record = e.record
        if isinstance(record, Person):
            names[(tumbling_start(record.date_time, window_ms), record.id)] = record.name
        elif isinstance(record, Auction):
            sellers.add((tumbling_start(record.date_time, window_ms), record.seller))
    return {key: name for key, name in names.items() if key in sellers}


def golden(query: str, events: Iterable[NexmarkEvent], spec: NexmarkSpec) -> Golden:
    """The rows the sink must end with for ``query`` over ``events`` (the spec gives
    the windows)."""
    answers: dict[str, Callable[[], Golden]] = {
        Q0: lambda: pass_through(events),
        Q1: lambda: currency_conversion(events),
        Q2: lambda: selection(events),
        Q5: lambda: hot_items(events, spec.window_ms, spec.slide_ms),
        Q7: lambda: highest_bid(events, spec.window_ms),
        Q8: lambda: new_users(events, spec.window_ms),
    }
    if query not in answers:
        raise ValueError(f"unknown Nexmark query {query!r} (expected one of {tuple(answers)})")
    return answers[query]()


def golden_of_spec(query: str, spec: NexmarkSpec) -> Golden:
    """The golden of ``query`` over the spec's own generated stream."""
    return golden(query, generate(spec), spec)
