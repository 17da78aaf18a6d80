"""Pieces of the adapters' ``check_address`` (distlab.contracts.lifecycle): parse an
address, and fail in one line when nothing answers there.

Every unreachable address reads ``cannot reach {engine} at {address} ({why})``, whatever
the engine, so the user (and the command line's tests) see one form.
"""

from __future__ import annotations

from distlab.contracts import EngineStartError
from distlab.procs import port_open, split_host_port

#: how long a TCP connect to a user's server may take before it counts as unreachable
CONNECT_TIMEOUT_S = 3.0


def endpoint(name: str, address: str, default_port: int | None, form: str) -> tuple[str, int]:
    """(host, port) of ``[scheme://]host[:port]``; a one-line error naming ``form``."""
    try:
        return split_host_port(address, default_port)
    except ValueError:
        raise EngineStartError(f"--address {name}={address!r}: expected {form}") from None


def unreachable(name: str, address: str, why: str) -> EngineStartError:
    return EngineStartError(f"cannot reach {name} at {address} ({why})")


def require_answer(
    name: str,
    address: str,
    host: str,
    port: int,
    timeout: float = CONNECT_TIMEOUT_S,
    why: str | None = None,
) -> None:
    """EngineStartError unless something accepts a TCP connection on host:port.

    Checked before the engine's own client connects: those retry an absent server for
    a long time (ray.init, dask's Client, Celery, Spark), a user waits seconds here."""
    if not port_open(host, port, timeout):
        raise unreachable(name, address, why or f"nothing answers on {host}:{port}")
