"""The batch suite: every engine that implements BatchEngine runs it on a real cluster."""

from __future__ import annotations

from conformance import checks
from conformance.base import EngineSuite


class BatchConformance(EngineSuite):
    def test_map_reduce_exact(self, engine):
        checks.check_map_reduce_exact(engine)

    def test_builtin_ops_typed_and_exact(self, engine):
        checks.check_builtin_ops(engine)
