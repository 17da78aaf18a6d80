"""Nexmark's event generator, ours: the same stream on every engine, from a seed.

What follows Nexmark's generator (Apache Beam's and the nexmark project's
``GeneratorConfig``, ``PersonGenerator``, ``AuctionGenerator``, ``BidGenerator``):

* the kinds interleave by the event's number: of every 50 events, number 0 is a
  person, 1-3 auctions, 4-49 bids;
* ids come from the event number (the n-th person is ``1000 + n``, likewise auctions),
  so a bid can name a person or auction only as far as the stream has got (plus
  Nexmark's lead of 10 ids ahead: a few bids name an auction or person not yet created);
* hot keys: a bid goes to the newest multiple-of-100 auction with probability
  ``1 - 1/hot_auction_ratio`` (else to one of the last ``num_in_flight_auctions``); a
  bidder is the newest (multiple of 100) + 1 person with probability
  ``1 - 1/hot_bidders_ratio``, a seller the newest multiple of 100 with probability
  ``1 - 1/hot_sellers_ratio`` (else one of the last ``num_active_people``);
* prices ``round(10 ** (uniform * 6) * 100)`` cents; reserve = initial bid + a price;
  category ``10 + uniform(5)``; an auction expires after ``1 + uniform(2 * horizon)``
  ms, the horizon being the event time of the auction ``num_in_flight_auctions`` ahead.

What is simplified: Python's ``random.Random`` (Mersenne twister), not Java's
generator, so the values differ from Nexmark's own for the same seed; random strings
are lower-case letters, no ``extra`` padding fields, no description or credit card;
channels are Nexmark's four hot channels 99 times in 100, else ``channel-<n>``; the url
is a fixed pattern around a random word; event time is ``i * 1000 // rate`` (no rate
shapes, no wall clock, no out-of-orderness).
"""

from __future__ import annotations

import functools
import random

from distlab.contracts.nexmark import (
    AUCTION_PROPORTION,
    FIRST_AUCTION_ID,
    FIRST_CATEGORY_ID,
    FIRST_PERSON_ID,
    PERSON_PROPORTION,
    PROPORTION_DENOMINATOR,
    Auction,
    Bid,
    NexmarkEvent,
    NexmarkSpec,
    Person,
)

#: hot auctions, sellers and bidders are the newest multiple of these (Nexmark's)
HOT_AUCTION_STEP = 100
HOT_PERSON_STEP = 100
#: how many ids past the newest a cold pick may go (Nexmark's PERSON/AUCTION_ID_LEAD)
ID_LEAD = 10
NUM_CATEGORIES = 5
HOT_CHANNELS = ("Google", "Facebook", "Baidu", "Apple")
#: a bid's channel is a hot one with probability 1 - 1/HOT_CHANNEL_RATIO
HOT_CHANNEL_RATIO = 100
COLD_CHANNELS = 10_000

US_STATES = ("AZ", "CA", "ID", "OR", "WA", "WY")
US_CITIES = (
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
)
FIRST_NAMES = ("Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah")
LAST_NAMES = ("Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones")
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def is_person(event_id: int) -> bool:
    return event_id % PROPORTION_DENOMINATOR < PERSON_PROPORTION


def is_auction(event_id: int) -> bool:
    offset = event_id % PROPORTION_DENOMINATOR
    return PERSON_PROPORTION <= offset < PERSON_PROPORTION + AUCTION_PROPORTION


def last_person_index(event_id: int) -> int:
    """The newest person's index (id - FIRST_PERSON_ID) at this event: its own if the
    event is a person."""
    epoch, offset = divmod(event_id, PROPORTION_DENOMINATOR)
    return epoch * PERSON_PROPORTION + min(offset, PERSON_PROPORTION - 1)


def last_auction_index(event_id: int) -> int:
    """The newest auction's index (id - FIRST_AUCTION_ID) at this event: its own if the
    event is an auction (-1 before the first auction)."""
    epoch, offset = divmod(event_id, PROPORTION_DENOMINATOR)
    if offset < PERSON_PROPORTION:  # a person: the previous epoch's last auction
        epoch, offset = epoch - 1, AUCTION_PROPORTION - 1
    elif offset >= PERSON_PROPORTION + AUCTION_PROPORTION:  # a bid: this epoch's last
        offset = AUCTION_PROPORTION - 1
    else:
        offset -= PERSON_PROPORTION
    return epoch * AUCTION_PROPORTION + offset


def generate(spec: NexmarkSpec) -> tuple[NexmarkEvent, ...]:
    """Every event of the stream in order (computed once per spec: a sender whose clock
    already runs must not spend it generating)."""
    return _generate(spec)


@functools.lru_cache(maxsize=2)
def _generate(spec: NexmarkSpec) -> tuple[NexmarkEvent, ...]:
    rng = random.Random(spec.seed)
    events = []
    for event_id in range(spec.n_events):
        now = spec.event_time_ms(event_id)
        if is_person(event_id):
            record = _person(event_id, now, rng)
        elif is_auction(event_id):
            record = _auction(spec, event_id, now, rng)
        else:
            record = _bid(spec, event_id, now, rng)
        events.append(NexmarkEvent(event_id, record))
    return tuple(events)


def _person(event_id: int, now: int, rng: random.Random) -> Person:
    return Person(
        id=FIRST_PERSON_ID + last_person_index(event_id),
        name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        email=f"{_word(rng, 7)}@{_word(rng, 5)}.com",
        city=rng.choice(US_CITIES),
        state=rng.choice(US_STATES),
        date_time=now,
    )


def _auction(spec: NexmarkSpec, event_id: int, now: int, rng: random.Random) -> Auction:
    if rng.randrange(spec.hot_sellers_ratio) > 0:
        seller = last_person_index(event_id) // HOT_PERSON_STEP * HOT_PERSON_STEP
    else:
        seller = _cold_person(spec, event_id, rng)
    initial_bid = _price(rng)
    # the auction's length averages the time until num_in_flight_auctions more are made
    events_ahead = spec.num_in_flight_auctions * PROPORTION_DENOMINATOR // AUCTION_PROPORTION
    horizon_ms = spec.event_time_ms(event_id + events_ahead) - now
    return Auction(
        id=FIRST_AUCTION_ID + last_auction_index(event_id),
        item_name=_word(rng, 20),
        initial_bid=initial_bid,
        reserve=initial_bid + _price(rng),
        date_time=now,
        expires=now + 1 + rng.randrange(max(2 * horizon_ms, 1)),
        seller=FIRST_PERSON_ID + seller,
        category=FIRST_CATEGORY_ID + rng.randrange(NUM_CATEGORIES),
    )


def _bid(spec: NexmarkSpec, event_id: int, now: int, rng: random.Random) -> Bid:
    if rng.randrange(spec.hot_auction_ratio) > 0:
        auction = last_auction_index(event_id) // HOT_AUCTION_STEP * HOT_AUCTION_STEP
    else:
        auction = _cold_auction(spec, event_id, rng)
    if rng.randrange(spec.hot_bidders_ratio) > 0:
        # the second person of the batch, so that hot bidders are not the hot sellers
        bidder = last_person_index(event_id) // HOT_PERSON_STEP * HOT_PERSON_STEP + 1
    else:
        bidder = _cold_person(spec, event_id, rng)
    price = _price(rng)
    if rng.randrange(HOT_CHANNEL_RATIO) > 0:
        channel = rng.choice(HOT_CHANNELS)
    else:
        channel = f"channel-{rng.randrange(COLD_CHANNELS)}"
    return Bid(
        auction=FIRST_AUCTION_ID + auction,
        bidder=FIRST_PERSON_ID + bidder,
        price=price,
        channel=channel,
        url=f"https://www.nexmark.com/{_word(rng, 5)}/item.htm?query=1",
        date_time=now,
    )


def _cold_person(spec: NexmarkSpec, event_id: int, rng: random.Random) -> int:
    """One of the last num_active_people persons, or up to ID_LEAD not yet created."""
    people = last_person_index(event_id) + 1
    active = min(people, spec.num_active_people)
    return people - active + rng.randrange(active + ID_LEAD)


def _cold_auction(spec: NexmarkSpec, event_id: int, rng: random.Random) -> int:
    """One of the last num_in_flight_auctions auctions, or up to ID_LEAD ahead."""
    newest = last_auction_index(event_id)
    oldest = max(newest - spec.num_in_flight_auctions, 0)
    return oldest + rng.randrange(newest - oldest + 1 + ID_LEAD)


def _price(rng: random.Random) -> int:
    """Cents, log-uniform from $1 to $1,000,000 (Nexmark's PriceGenerator)."""
    return round(10.0 ** (rng.random() * 6.0) * 100.0)


def _word(rng: random.Random, longest: int) -> str:
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(1, longest)))
