"""Nexmark's auction events and queries, as the contract every stream engine and the
Nexmark workload share: the record types, one stream's settings, the query names and
the event-time window rules.

The stream interleaves persons, auctions and bids 1:3:46 as Nexmark's generator does
(:mod:`distlab.contracts.nexmark_generator` makes it). Event ``i`` (its ``event_id``,
the stream's sequence number) has event time ``date_time = i * 1000 // rate``
milliseconds from the stream's start, so events come in event-time order.

The queries (Nexmark's numbering):

* ``q0`` pass-through: every event, unchanged; a row per event, keyed by its id.
* ``q1`` currency conversion: every bid with its price in euros,
  ``price * 908 // 1000`` (Nexmark's 0.908 rate in integer arithmetic, rounded down, so
  that no engine's float rounding can differ); keyed by the bid's event id.
* ``q2`` selection: ``(auction, price)`` of the bids whose ``auction % 123 == 0``;
  keyed by the bid's event id.
* ``q5`` hot items: bids counted per auction over sliding windows ``window_ms`` long,
  one ending every ``slide_ms``; per window the highest count and every auction that
  has it; keyed by the window's END (never negative, as in contracts/streams.py TOP_N).
* ``q7`` highest bid: per tumbling window of ``window_ms``, the highest price and
  every bid at that price; keyed by the window's START.
* ``q8`` new users: persons who opened an auction (``auction.seller == person.id``) in
  the same tumbling window as they were created; a row per (window start, person id).

Windows are on event time. Events are generated in order, so the allowed lateness is 0
(:data:`ALLOWED_LATENESS_MS`): a window is complete once an event at or past its end
has been seen. A window that received no event emits nothing.

Emissions follow contracts/streams.py: ``FINAL`` (each window once, when it closes) or
``LAST_IS_FINAL`` (update mode, the last emission per window key is its value).
q0, q1 and q2 keep no state: their rows are emitted exactly once in either mode.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the ids Nexmark's generator starts from (its GeneratorConfig)
FIRST_PERSON_ID = 1000
FIRST_AUCTION_ID = 1000
FIRST_CATEGORY_ID = 10

#: of every PROPORTION_DENOMINATOR events, the first PERSON_PROPORTION are persons, the
#: next AUCTION_PROPORTION auctions and the rest bids (Nexmark's 1:3:46)
PERSON_PROPORTION = 1
AUCTION_PROPORTION = 3
BID_PROPORTION = 46
PROPORTION_DENOMINATOR = PERSON_PROPORTION + AUCTION_PROPORTION + BID_PROPORTION

#: events come in event-time order, so no window waits for late ones
ALLOWED_LATENESS_MS = 0

Q0, Q1, Q2, Q5, Q7, Q8 = "q0", "q1", "q2", "q5", "q7", "q8"
QUERIES = (Q0, Q1, Q2, Q5, Q7, Q8)
#: the queries without state: each row is emitted exactly once whatever the mode
STATELESS_QUERIES = (Q0, Q1, Q2)

#: q1: euros per dollar, as an integer ratio (price * 908 // 1000)
EUROS_PER_DOLLAR = (908, 1000)
#: q2: a bid is kept when its auction id is a multiple of this
Q2_AUCTION_MODULUS = 123


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str
    email: str
    city: str
    state: str
    #: event time, ms from the stream's start
    date_time: int


@dataclass(frozen=True, slots=True)
class Auction:
    id: int
    item_name: str
    initial_bid: int
    reserve: int
    date_time: int
    #: when the auction closes (ms), after date_time
    expires: int
    seller: int
    category: int


@dataclass(frozen=True, slots=True)
class Bid:
    auction: int
    bidder: int
    #: in cents, as Nexmark's
    price: int
    channel: str
    url: str
    date_time: int


Record = Person | Auction | Bid


@dataclass(frozen=True, slots=True)
class NexmarkEvent:
    """One event of the stream: its sequence number and its record."""

    event_id: int
    record: Record

    @property
    def date_time(self) -> int:
        return self.record.date_time


@dataclass(frozen=True)
class NexmarkSpec:
    """One Nexmark stream: how many events, their event-time rate, the seed, the
    windows, and Nexmark's key-skew settings (its NexmarkConfiguration's defaults)."""

    n_events: int
    #: events per second of event time: event i is at i * 1000 // rate ms
    rate: float = 10_000.0
    seed: int = 7
    #: q5's sliding windows and q7's and q8's tumbling windows
    window_ms: int = 10_000
    #: q5: a sliding window ends every slide_ms (must divide window_ms)
    slide_ms: int = 2_000
    #: a bid goes to a hot auction with probability 1 - 1/hot_auction_ratio
    hot_auction_ratio: int = 2
    #: an auction's seller is a hot person with probability 1 - 1/hot_sellers_ratio
    hot_sellers_ratio: int = 4
    #: a bid's bidder is a hot person with probability 1 - 1/hot_bidders_ratio
    hot_bidders_ratio: int = 4
    #: a cold person is drawn from the last num_active_people (plus a few ahead)
    num_active_people: int = 1000
    #: a cold auction is drawn from the last num_in_flight_auctions (plus a few ahead)
    num_in_flight_auctions: int = 100

    def __post_init__(self) -> None:
        if self.n_events < 0 or self.rate <= 0:
            raise ValueError(f"need n_events >= 0 and rate > 0, got {self.n_events}, {self.rate}")
        if self.slide_ms <= 0 or self.window_ms <= 0 or self.window_ms % self.slide_ms:
            raise ValueError(
                f"slide_ms must divide window_ms (both > 0), got {self.slide_ms}, {self.window_ms}"
            )
        ratios = (self.hot_auction_ratio, self.hot_sellers_ratio, self.hot_bidders_ratio)
        if min(ratios) < 1:
            raise ValueError(f"hot ratios must be >= 1 (1: nothing hot), got {ratios}")

    def event_time_ms(self, event_id: int) -> int:
        return int(event_id * 1000 // self.rate)


def tumbling_start(date_time: int, window_ms: int) -> int:
    """The start of the tumbling window that holds ``date_time``."""
    return date_time - date_time % window_ms


def sliding_ends(date_time: int, window_ms: int, slide_ms: int) -> range:
    """The ends of the sliding windows ``[end - window_ms, end)`` that hold
    ``date_time``: the multiples of ``slide_ms`` in ``(date_time, date_time + window_ms]``."""
    first_end = date_time - date_time % slide_ms + slide_ms
    return range(first_end, date_time + window_ms + 1, slide_ms)
