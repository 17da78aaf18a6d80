"""The streams suite: every engine that implements StreamEngine runs it on a real cluster."""

from __future__ import annotations

from conformance import checks
from conformance.base import EngineSuite


class StreamConformance(EngineSuite):
    def test_stream_windows_exact_and_every_event_arrives(self, engine):
        checks.check_stream_exact(engine)

    def test_stream_top_n_exact(self, engine):
        checks.check_stream_top_n_exact(engine)
