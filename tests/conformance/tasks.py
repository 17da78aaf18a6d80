"""The tasks suite: every engine that implements TaskEngine runs it on a real cluster."""

from __future__ import annotations

from conformance import checks
from conformance.base import EngineSuite


class TaskConformance(EngineSuite):
    #: shared objects of this size must round-trip (kept small: tests stay fast)
    share_elements = 200_000

    def test_submit_returns_future(self, engine):
        checks.check_submit_returns_future(engine)

    def test_map_keeps_order(self, engine):
        checks.check_map_keeps_order(engine)

    def test_closure_runs(self, engine):
        checks.check_closure_runs(engine)

    def test_exception_type_and_remote_traceback(self, engine):
        checks.check_exception_type_and_remote_traceback(engine)

    def test_user_exception_class_arrives_as_itself(self, engine):
        checks.check_user_exception_class(engine)

    def test_share_round_trip(self, engine):
        checks.check_share_round_trip(engine, self.share_elements)

    def test_actor_keeps_state_where_declared(self, engine):
        checks.check_actor_keeps_state_where_declared(engine)
