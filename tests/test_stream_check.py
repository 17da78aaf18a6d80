"""W7 stream without an engine: the plain-Python goldens (tumbling windows, sliding
top-N) and the workload's exact check of what a sink received."""

from __future__ import annotations

from distlab.contracts.streams import FINAL, LAST_IS_FINAL, TOP_N, golden_top_n
from distlab.workloads import RunOutput, create
from distlab.workloads.stream import SinkOutput, StreamSpec, golden_windows


def test_golden_counts_only_passing_events_per_key_and_window():
    events = [(0, 1, 500, 0), (1, 1, 100, 10), (2, 2, 300, 999), (3, 1, 700, 1000)]
    assert golden_windows(events, 1000, 200) == {
        (1, 0): (1, 500),
        (2, 0): (1, 300),
        (1, 1000): (1, 700),
    }


def test_golden_top_n_ranks_keys_over_sliding_windows_by_their_ends():
    # windows 1000 ms long, one ending every 500 ms; the 100-valued event is filtered out
    events = [(0, 1, 300, 100), (1, 2, 500, 600), (2, 1, 100, 700), (3, 3, 250, 1200)]
    assert golden_top_n(events, 1000, 200, top_n=2) == {
        (1, 500): (1, 300),  # [-500, 500): key 1 only
        (2, 1000): (1, 500),  # [0, 1000): keys 2 and 1
        (1, 1000): (2, 300),
        (2, 1500): (1, 500),  # [500, 1500): keys 2 and 3 (key 1's event is filtered out)
        (3, 1500): (2, 250),
        (3, 2000): (1, 250),  # [1000, 2000)
    }
    # a tie goes to the smaller key; only top_n keys per window
    tied = [(0, 5, 400, 0), (1, 4, 400, 10), (2, 6, 300, 20)]
    assert golden_top_n(tied, 1000, 200, top_n=2) == {
        (4, 500): (1, 400),
        (5, 500): (2, 400),
        (4, 1000): (1, 400),
        (5, 1000): (2, 400),
    }


def test_top_n_verification_needs_the_right_ranks():
    wl = create("stream", "tiny")
    spec = wl.spec(query=TOP_N)
    rows = sorted(golden_top_n(spec.events(), spec.window_ms, spec.filter_min, spec.top_n).items())
    good = [(k, end, rank, total) for (k, end), (rank, total) in rows]
    key = (spec.rate, spec.n_events)
    ok, detail = wl.verify(RunOutput({key: SinkOutput(good)}, n_tasks=1), TOP_N)
    assert ok and "top-N rows" in detail, detail
    k, end, rank, total = good[0]
    swapped = [(k, end, rank + 1, total), *good[1:]]
    ok, detail = wl.verify(RunOutput({key: SinkOutput(swapped)}, n_tasks=1), TOP_N)
    assert not ok and "wrong" in detail, detail
    # the windows query's golden is another answer altogether
    ok, _ = wl.verify(RunOutput({key: SinkOutput(good)}, n_tasks=1), "fixed_rate")
    assert not ok


def test_events_are_deterministic_and_paced_by_event_time():
    spec = StreamSpec(n_events=100, rate=50)
    assert spec.events() == spec.events()
    assert spec.events()[50][3] == 1000 and spec.intended_s(50) == 1.0


def _golden_sink(wl) -> tuple[tuple[float, int], SinkOutput]:
    ((key, sink),) = wl.reference().items()
    return key, sink


def _verify(wl, key, sink: SinkOutput, **output) -> tuple[bool, str]:
    return wl.verify(RunOutput({key: sink}, n_tasks=1, **output), "fixed_rate")


def test_the_golden_itself_verifies_each_window_once():
    wl = create("stream", "tiny")
    key, sink = _golden_sink(wl)
    ok, detail = _verify(wl, key, sink)
    assert ok and "each emitted exactly once" in detail, detail


def test_a_wrong_window_fails_verification():
    wl = create("stream", "tiny")
    key, sink = _golden_sink(wl)
    k, w, c, s = sink.windows[0]
    bad = SinkOutput([(k, w, c, s + 1), *sink.windows[1:]])
    ok, detail = _verify(wl, key, bad)
    assert not ok and "wrong count/sum" in detail


def test_a_window_emitted_twice_fails_verification():
    """A sink that delivered a window twice (at-least-once), or a partial result and then
    the final one, has not computed the windows exactly once."""
    wl = create("stream", "tiny")
    key, sink = _golden_sink(wl)
    k, w, c, s = sink.windows[3]
    twice = SinkOutput([*sink.windows, (k, w, c, s)])
    ok, detail = _verify(wl, key, twice)
    assert not ok and "1 windows emitted more than once" in detail, detail
    partial_then_final = SinkOutput([(k, w, c - 1, s - 1), *sink.windows])
    ok, detail = _verify(wl, key, partial_then_final)
    assert not ok and "emitted more than once" in detail, detail


def test_update_mode_takes_the_last_running_total_and_says_so():
    """Spark's update mode emits running totals: declared last-is-final, the last one per
    window is checked, each must be a later total than the one before."""
    wl = create("stream", "tiny")
    key, sink = _golden_sink(wl)
    k, w, c, s = sink.windows[0]
    partial = (k, w, c - 1, s - 7)
    updates = SinkOutput([partial, *sink.windows], window_updates=LAST_IS_FINAL)
    ok, detail = _verify(wl, key, updates)
    assert ok and "update mode: the last of" in detail, detail
    # the final total and then an older one: the older one would be taken as final
    stale = SinkOutput([*sink.windows, partial], window_updates=LAST_IS_FINAL)
    ok, detail = _verify(wl, key, stale)
    assert not ok and "no later running total" in detail, detail
    # the same total delivered twice is a duplicate, not an update
    repeated = SinkOutput([*sink.windows, sink.windows[0]], window_updates=LAST_IS_FINAL)
    ok, detail = _verify(wl, key, repeated)
    assert not ok and "no later running total" in detail, detail
    # a mode nobody declared is not guessed at
    ok, detail = _verify(wl, key, SinkOutput(sink.windows, window_updates="whatever"))
    assert not ok and "unknown window_updates" in detail


def test_an_event_that_should_have_been_filtered_out_fails_verification():
    wl = create("stream", "tiny")
    key, sink = _golden_sink(wl)
    spec = wl.spec()
    dropped = next(e for e, _k, v, _t in spec.events() if v < spec.filter_min)
    for unexpected in ([dropped], [spec.n_events + 5]):  # filtered out; never sent
        bad = SinkOutput(sink.windows, FINAL, unexpected)
        ok, detail = _verify(wl, key, bad)
        assert not ok and "should not have" in detail and str(unexpected[0]) in detail


def test_duplicate_arrivals_are_counted_and_shown():
    wl = create("stream", "tiny")
    key, sink = _golden_sink(wl)
    ok, detail = _verify(wl, key, sink, duplicates=3)
    assert ok and "3 duplicate pass-through arrivals" in detail, detail
