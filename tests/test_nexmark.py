"""Nexmark's foundation, engine-free: our generator (deterministic, 1:3:46, event times
in order, hot keys), each query's golden on a stream small enough to check by hand, and
the check's verdicts on dropped, repeated, wrong and extra rows in both emission modes."""

from __future__ import annotations

from collections import Counter

import pytest

from distlab.contracts.nexmark import (
    FIRST_AUCTION_ID,
    FIRST_PERSON_ID,
    Q0,
    Q1,
    Q2,
    Q5,
    Q7,
    Q8,
    QUERIES,
    STATELESS_QUERIES,
    Auction,
    Bid,
    NexmarkEvent,
    NexmarkSpec,
    Person,
)
from distlab.contracts.nexmark_generator import generate
from distlab.contracts.streams import FINAL, LAST_IS_FINAL
from distlab.workloads.nexmark_check import check_query
from distlab.workloads.nexmark_golden import golden, golden_of_spec, in_euros

#: 20 s of event time in windows of 2 s sliding by 1 s: several windows per query
SPEC = NexmarkSpec(n_events=20_000, rate=1000, seed=11, window_ms=2000, slide_ms=1000)
WINDOWED = tuple(q for q in QUERIES if q not in STATELESS_QUERIES)


def _kind(event: NexmarkEvent) -> str:
    return type(event.record).__name__[0]  # P, A or B


# -- the generator -----------------------------------------------------------------------
def test_the_generator_is_deterministic_from_its_seed():
    small = NexmarkSpec(n_events=500, seed=3)
    assert generate(small) == generate(NexmarkSpec(n_events=500, seed=3))
    assert generate(small) != generate(NexmarkSpec(n_events=500, seed=4))


def test_every_50_events_are_one_person_three_auctions_then_46_bids():
    events = generate(SPEC)
    assert Counter(_kind(e) for e in events) == {"P": 400, "A": 1200, "B": 18400}
    for start in range(0, len(events), 50):
        assert "".join(_kind(e) for e in events[start : start + 50]) == "P" + "A" * 3 + "B" * 46


def test_event_times_come_from_the_rate_in_order_and_ids_count_up():
    events = generate(NexmarkSpec(n_events=2000, rate=300))
    assert [e.date_time for e in events] == [i * 1000 // 300 for i in range(2000)]
    assert [e.event_id for e in events] == list(range(2000))
    persons = [e.record.id for e in events if isinstance(e.record, Person)]
    auctions = [e.record.id for e in events if isinstance(e.record, Auction)]
    assert persons == list(range(FIRST_PERSON_ID, FIRST_PERSON_ID + len(persons)))
    assert auctions == list(range(FIRST_AUCTION_ID, FIRST_AUCTION_ID + len(auctions)))
    assert all(a.expires > a.date_time for e in events if isinstance(a := e.record, Auction))


def test_bids_are_hot_on_recent_auctions_and_name_only_what_exists_or_just_ahead():
    events = generate(SPEC)
    newest_auction = newest_person = 0
    hot = 0
    for e in events:
        r = e.record
        if isinstance(r, Person):
            newest_person = r.id
        elif isinstance(r, Auction):
            newest_auction = r.id
            assert r.seller <= newest_person + 10  # Nexmark's lead of 10 ids
        else:
            assert r.auction <= newest_auction + 10 and r.bidder <= newest_person + 10
            hot += r.auction % 100 == 0
    bids = sum(isinstance(e.record, Bid) for e in events)
    # hot_auction_ratio 2: half the bids at least go to the newest multiple of 100
    assert hot / bids > 0.45


# -- the goldens on a stream checked by hand ---------------------------------------------
def _person(pid, name, t):
    return Person(pid, name, f"{name}@x.com", "Kent", "WA", t)


def _auction(aid, seller, t):
    return Auction(aid, "item", 10, 20, t, t + 100, seller, 10)


def _bid(auction, bidder, price, t):
    return Bid(auction, bidder, price, "Google", "https://u", t)


HAND = [
    _person(1000, "Ann", 0),
    _auction(1000, 1000, 1),  # Ann opens an auction in her own window: q8
    _person(1001, "Bob", 3),
    _bid(1000, 1001, 100, 4),
    _bid(1107, 1000, 200, 6),  # 1107 = 9 * 123: q2
    _bid(1000, 1001, 200, 8),  # ties e4 at the window's highest price: q7 keeps both
    _auction(1001, 1001, 12),  # Bob's auction is a window after his creation: not q8
    _bid(1107, 1002, 50, 13),
    _bid(1107, 1002, 999, 14),
]
HAND_EVENTS = [NexmarkEvent(i, r) for i, r in enumerate(HAND)]
HAND_SPEC = NexmarkSpec(n_events=0, window_ms=10, slide_ms=5)


def test_q0_passes_every_event_and_q1_converts_each_bid_to_euros_rounded_down():
    assert golden(Q0, HAND_EVENTS, HAND_SPEC) == dict(enumerate(HAND))
    euros = {i: r.price for i, r in golden(Q1, HAND_EVENTS, HAND_SPEC).items()}
    assert euros == {3: 90, 4: 181, 5: 181, 7: 45, 8: 907}  # 200 * 0.908 = 181.6
    assert in_euros(1000) == 908


def test_q2_keeps_the_bids_on_auctions_divisible_by_123():
    assert golden(Q2, HAND_EVENTS, HAND_SPEC) == {4: (1107, 200), 7: (1107, 50), 8: (1107, 999)}


def test_q5_counts_bids_per_auction_in_sliding_windows_and_keeps_the_top():
    # windows [end - 10, end) ending every 5: the bid at 4 is in the windows ending 5, 10
    assert golden(Q5, HAND_EVENTS, HAND_SPEC) == {
        5: (1, (1000,)),
        10: (2, (1000,)),
        15: (3, (1107,)),  # 6, 13, 14 on 1107; 8 on 1000
        20: (2, (1107,)),
    }
    tie = [NexmarkEvent(0, _bid(1, 9, 5, 0)), NexmarkEvent(1, _bid(2, 9, 5, 1))]
    assert golden(Q5, tie, HAND_SPEC)[5] == (1, (1, 2))


def test_q7_takes_the_highest_price_per_tumbling_window_with_every_bid_at_it():
    assert golden(Q7, HAND_EVENTS, HAND_SPEC) == {
        0: (200, ((1000, 1001, 8), (1107, 1000, 6))),
        10: (999, ((1107, 1002, 14),)),
    }


def test_q8_joins_new_persons_with_their_auctions_in_the_same_window():
    assert golden(Q8, HAND_EVENTS, HAND_SPEC) == {(0, 1000): "Ann"}


def test_every_golden_of_the_generated_stream_has_rows():
    sizes = {q: len(golden_of_spec(q, SPEC)) for q in QUERIES}
    assert sizes[Q0] == 20_000 and sizes[Q1] == 18_400
    assert sizes[Q7] == 10 and sizes[Q5] == 21  # ends 1000 .. 21000
    assert all(sizes.values()), sizes


# -- the check ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def goldens():
    return {q: golden_of_spec(q, SPEC) for q in QUERIES}


@pytest.mark.parametrize("mode", [FINAL, LAST_IS_FINAL])
@pytest.mark.parametrize("query", QUERIES)
def test_the_golden_itself_passes(goldens, query, mode):
    result = check_query(query, list(goldens[query].items()), goldens[query], mode)
    assert result.ok and result.detail == ""


@pytest.mark.parametrize("query", QUERIES)
def test_a_dropped_row_fails_with_it_named(goldens, query):
    want = goldens[query]
    rows = list(want.items())
    dropped, _value = rows.pop(len(rows) // 2)
    result = check_query(query, rows, want)
    assert not result.ok and result.missing == (dropped,)
    assert "1 missing, 0 duplicated, 0 wrong, 0 extra" in result.detail
    assert f"missing {dropped!r}" in result.detail


@pytest.mark.parametrize("query", QUERIES)
def test_a_row_emitted_twice_fails_in_final_mode(goldens, query):
    want = goldens[query]
    rows = list(want.items())
    rows.append(rows[0])
    result = check_query(query, rows, want, FINAL)
    assert not result.ok and result.duplicated == (rows[0][0],)
    assert "0 missing, 1 duplicated" in result.detail and "emitted 2 times" in result.detail


@pytest.mark.parametrize("query", QUERIES)
def test_a_wrong_value_fails_with_both_values_shown(goldens, query):
    want = goldens[query]
    rows = list(want.items())
    key, value = rows[-1]
    rows[-1] = (key, ("not", "the", "answer"))
    for mode in (FINAL, LAST_IS_FINAL):
        result = check_query(query, rows, want, mode)
        assert not result.ok and result.wrong == (key,)
        assert "1 wrong" in result.detail and "got ('not', 'the', 'answer') want" in result.detail


@pytest.mark.parametrize("query", QUERIES)
def test_an_extra_row_fails(goldens, query):
    want = goldens[query]
    result = check_query(query, [*want.items(), (-1, "stray")], want)
    assert not result.ok and result.extra == (-1,)
    assert "1 extra" in result.detail and "extra -1: 'stray'" in result.detail


def _updates(want: dict) -> list:
    """Update mode: every row first emitted with a stale value, then with its final one,
    interleaved across keys as a micro-batch engine would."""
    stale = [(key, ("running", i)) for i, key in enumerate(want)]
    return [*stale, *want.items()]


@pytest.mark.parametrize("query", WINDOWED)
def test_updates_per_window_pass_last_is_final_and_fail_final(goldens, query):
    want = goldens[query]
    assert check_query(query, _updates(want), want, LAST_IS_FINAL).ok
    final = check_query(query, _updates(want), want, FINAL)
    assert not final.ok and len(final.duplicated) == len(want)
    assert f"{len(want)} duplicated" in final.detail and "each row once" in final.detail


@pytest.mark.parametrize("query", WINDOWED)
def test_in_update_mode_the_last_emission_is_what_counts(goldens, query):
    want = goldens[query]
    key = next(iter(want))
    emissions = [*want.items(), (key, ("late", "and", "wrong"))]
    result = check_query(query, emissions, want, LAST_IS_FINAL)
    assert not result.ok and result.wrong == (key,) and result.duplicated == ()
    assert "last emission per key is final" in result.detail


@pytest.mark.parametrize("query", STATELESS_QUERIES)
def test_a_stateless_row_twice_fails_even_in_update_mode(goldens, query):
    want = goldens[query]
    rows = [*want.items(), next(iter(want.items()))]
    result = check_query(query, rows, want, LAST_IS_FINAL)
    assert not result.ok and len(result.duplicated) == 1
    assert "no state, whatever the mode" in result.detail


def test_q5_and_q7_name_windows_and_unknown_names_are_refused(goldens):
    want = goldens[Q7]
    assert "windows 1 missing" in check_query(Q7, list(want.items())[1:], want).detail
    with pytest.raises(ValueError, match="unknown Nexmark query"):
        check_query("q99", [], {})
    with pytest.raises(ValueError, match="unknown window_updates"):
        check_query(Q7, [], want, "sometimes")


# -- the lines a source carries ---------------------------------------------------------
def test_every_generated_event_reads_back_from_its_line():
    from distlab.contracts.nexmark_lines import decode, encode, payloads

    spec = NexmarkSpec(n_events=5000, rate=1000.0)
    events = generate(spec)
    lines = payloads(spec)
    assert [decode(line) for line in lines] == list(events)
    assert {line[:2] for line in lines} == {b"p,", b"a,", b"b,"}
    first_bid = next(e for e in events if isinstance(e.record, Bid))
    assert encode(first_bid).split(",")[:2] == ["b", str(first_bid.event_id)]


def test_a_field_with_a_separator_is_refused_and_a_short_line_is_one_error():
    from distlab.contracts.nexmark_lines import decode, encode

    person = Person(1000, "a,b", "x@y.com", "boise", "id", 0)
    with pytest.raises(ValueError, match="separator"):
        encode(NexmarkEvent(0, person))
    with pytest.raises(ValueError, match="Bid line has 2 fields"):
        decode("b,7,1000,1001")
