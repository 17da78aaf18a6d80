"""Conformance suites, one per contract (distlab.contracts), run on real clusters.

A per-engine test module subclasses the suites for the contracts its engine declares:
``LifecycleConformance`` always, then ``TaskConformance``, ``BatchConformance``,
``StreamConformance`` as the engine implements TaskEngine, BatchEngine, StreamEngine,
and sets ``engine_name`` (and ``engine_kwargs`` for servers it must point at). Nothing is
mocked: the engine starts its embedded cluster or servers on 127.0.0.1 with free ports,
and the lifecycle suite checks that close() leaves no process and no port behind.
``tests/test_contracts.py`` checks that every registered engine's test module runs every
suite its declarations call for.
"""

from conformance.checks import assert_nothing_left, engine_processes

__all__ = ["assert_nothing_left", "engine_processes"]
