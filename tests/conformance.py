"""The conformance suite every engine adapter runs against a real local cluster.

A per-engine test module subclasses EngineConformance and sets ``engine_name`` (and
``engine_kwargs`` for servers it must point at). Nothing is mocked: the engine starts
its embedded cluster or servers on 127.0.0.1 with free ports.
"""

from __future__ import annotations

import os
import time

import numpy as np
import psutil
import pytest

import distlab
from distlab import probes
from distlab.contracts import EngineStartError, RemoteTraceback
from distlab.procs import free_port, listening_ports, tree

# multiprocessing's interpreter-wide helpers live until the interpreter exits: not leaks.
_MP_SINGLETONS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _is_mp_singleton(p: psutil.Process) -> bool:
    try:
        return any(s in " ".join(p.cmdline()) for s in _MP_SINGLETONS)
    except psutil.Error:
        return False


def engine_processes(eng) -> set[int]:
    return {p.pid for p in tree([os.getpid(), *eng.process_roots()]) if p.pid != os.getpid()}


def assert_nothing_left(pids: set[int], ports: set[tuple[str, int]], timeout: float = 20) -> None:
    """Every process in ``pids`` gone and none of ``ports`` listening, within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in pids:
            try:
                p = psutil.Process(pid)
                if p.status() != psutil.STATUS_ZOMBIE and not _is_mp_singleton(p):
                    alive.append(f"{pid}:{p.name()}")
            except psutil.Error:
                pass
        still = {
            (c.laddr.ip, c.laddr.port)
            for c in psutil.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr and (c.laddr.ip, c.laddr.port) in ports
        }
        if not alive and not still:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"left running after close: processes {alive}, ports {sorted(still)}"
            )
        time.sleep(0.2)


class EngineConformance:
    engine_name: str = ""
    #: shared objects of this size must round-trip (kept small: tests stay fast)
    share_elements = 200_000
    #: an address nobody answers on ({port} is a free port); None: the engine takes none
    unreachable_address: str | None = None

    def engine_kwargs(self) -> dict:
        return {"workers": 2}

    def make_engine(self):
        return distlab.engine(self.engine_name, **self.engine_kwargs())

    @pytest.fixture(scope="class")
    @classmethod
    def shared_engine(cls):
        # Started once per class; a failed start is reported for each test, not retried.
        eng = cls._shared = cls().make_engine()
        eng.start()
        yield eng
        eng.close()
        cls._shared = None

    @pytest.fixture
    def engine(self, shared_engine):
        if not shared_engine.started:  # the leak check closed it: start it again
            shared_engine.start()
        return shared_engine

    def test_submit_returns_future(self, engine):
        fut = engine.submit(probes.add, 2, y=3)
        assert fut.result(timeout=60) == 5
        assert fut.done()

    def test_map_keeps_order(self, engine):
        items = list(range(25))
        assert engine.map(probes.square, items) == [x * x for x in items]

    def test_map_chunked_keeps_order(self, engine):
        items = list(range(103))
        assert engine.map(probes.square, items, chunksize=10) == [x * x for x in items]

    def test_map_empty(self, engine):
        assert engine.map(probes.square, []) == []

    def test_closure_runs(self, engine):
        offset = 7
        assert engine.map(lambda x: x + offset, [1, 2]) == [8, 9]

    def test_exception_type_and_remote_traceback(self, engine):
        fut = engine.submit(probes.fail_with, "boom-42")
        with pytest.raises(probes.ProbeError) as info:
            fut.result(timeout=60)
        exc = info.value
        text = str(exc) + str(exc.__cause__ or "")
        assert "boom-42" in text
        # where it failed on the worker must be visible to the caller
        assert "fail_with" in text or isinstance(exc.__cause__, RemoteTraceback)

    def test_gather_raises_first_failure(self, engine):
        futs = [engine.submit(probes.square, 3), engine.submit(probes.fail_with, "second")]
        with pytest.raises(probes.ProbeError):
            engine.gather(futs)

    def test_share_round_trip(self, engine):
        arr = np.arange(self.share_elements, dtype=np.float64)
        handle = engine.share(arr)
        sums = engine.gather([engine.submit(probes.array_sum, handle) for _ in range(3)])
        assert sums == [float(arr.sum())] * 3

    def test_actor_keeps_state_where_declared(self, engine):
        class Counter:
            def __init__(self, start: int):
                self.value = start

            def add(self, n: int) -> int:
                self.value += n
                return self.value

        if not engine.supports_actors:  # the capability flag must tell the truth
            with pytest.raises(NotImplementedError):
                engine.create_actor(Counter, 10)
            return
        counter = engine.create_actor(Counter, 10)
        assert [counter.call("add", 1).result(timeout=60) for _ in range(3)] == [11, 12, 13]

    def test_describe_and_capabilities(self, engine):
        d = engine.describe()
        assert isinstance(d, dict) and "address" in d
        assert isinstance(engine.supports_resources, bool)
        assert engine.shapes

    def test_unreachable_address_fails_fast(self):
        if self.unreachable_address is None:
            pytest.skip(f"{self.engine_name} takes no address")
        port = free_port()
        # creating the engine imports its library: not part of the timed start
        eng = distlab.engine(self.engine_name, address=self.unreachable_address.format(port=port))
        started = time.monotonic()
        with pytest.raises(EngineStartError, match=str(port)):
            eng.start()
        assert time.monotonic() - started < 10
        assert not eng.started
        eng.close()

    def test_close_leaves_nothing_running(self):
        # Stop the shared engine first: some engines allow one session per process (Ray,
        # Spark), and an embedded cluster's ports in this process would count as left open.
        shared = getattr(type(self), "_shared", None)
        if shared is not None:
            shared.close()
        eng = self.make_engine()
        before = engine_processes(eng)
        eng.start()
        try:
            assert eng.map(probes.square, range(4)) == [0, 1, 4, 9]
            pids = engine_processes(eng) - before
            ports = listening_ports(pids | {os.getpid()})
        finally:
            eng.close()
            eng.close()  # idempotent
        assert_nothing_left(pids, ports)
