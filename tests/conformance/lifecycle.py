"""The lifecycle suite: every engine runs it (declarations, address check, no leaks)."""

from __future__ import annotations

import time

import pytest

import distlab
from conformance import checks
from conformance.base import EngineSuite
from distlab.contracts import EngineStartError
from distlab.procs import free_port


class LifecycleConformance(EngineSuite):
    #: an address nobody answers on ({port} is a free port); None: the engine takes none
    unreachable_address: str | None = None

    def test_describe_and_declarations(self, engine):
        checks.check_describe_and_declarations(engine)

    def test_unreachable_address_fails_fast(self):
        if self.unreachable_address is None:
            pytest.skip(f"{self.engine_name} takes no address")
        port = free_port()
        address = self.unreachable_address.format(port=port)
        # creating the engine imports its library: not part of the timed start
        eng = distlab.engine(self.engine_name, address=address)
        started = time.monotonic()
        with pytest.raises(EngineStartError, match=str(port)):
            eng.start()
        assert time.monotonic() - started < 10
        assert not eng.started
        eng.close()
        # the same check the runner makes before a run, from the class alone
        with pytest.raises(EngineStartError):
            type(eng).check_address(address)

    def test_close_leaves_nothing_running(self):
        # Stop the shared engine first: some engines allow one session per process (Ray,
        # Spark), and an embedded cluster's ports in this process would count as left open.
        shared = getattr(type(self), "_shared", None)
        if shared is not None:
            shared.close()
        checks.check_close_leaves_nothing(self.make_engine)
