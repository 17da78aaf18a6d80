"""Keep a TableEnvironment's planning on the JVM thread that built it.

PyFlink reaches its gateway JVM over py4j's pool of socket connections, each served by
its own JVM thread; a call takes the connection on top of the pool and puts it back after.
Flink's SQL planner (Calcite) finds its metadata provider in a thread-local that Flink
sets only on the thread that built the TableEnvironment; planned on any other thread, a
query fails with "NullPointerException: metadataHandlerProvider" (FLINK-23020, open).

The pool grows past one connection whenever py4j frees a Java object while a call is in
flight (the free takes a second connection), and a connection closed after a fatal reply
leaves the pool: from then on the top is not always the connection that built the
environment. CI saw it once: every TPC-H and groupby query failed with that error after
the small query had passed. So each planning call first puts its environment's own
connection back on top (the calls PyFlink makes before it, on the same Python thread, take
and return that same connection), and a caller whose connection is gone builds a new
environment.

This module imports py4j and pyflink only inside its functions (see
distlab.engines.flink.engine).
"""

from __future__ import annotations

from typing import Any

_ATTRIBUTE = "_distlab_connection"


def _pool() -> Any:
    from pyflink.java_gateway import get_gateway

    return get_gateway()._gateway_client.deque


def built(env: Any) -> Any:
    """Remember ``env``'s connection (the one on top of the pool right after it was built:
    the call that built it returned it last)."""
    pool = _pool()
    setattr(env, _ATTRIBUTE, pool[-1] if pool else None)
    return env


def on_own_connection(env: Any) -> bool:
    """Put ``env``'s connection on top of the pool, so the next call from this thread runs
    on the JVM thread that built ``env``; False when that connection is gone."""
    connection = getattr(env, _ATTRIBUTE, None)
    pool = _pool()
    if connection is None or connection not in pool:
        return False
    if pool[-1] is not connection:
        pool.remove(connection)
        pool.append(connection)
    return True
