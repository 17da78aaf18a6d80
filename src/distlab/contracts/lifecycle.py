"""The lifecycle contract: what every engine is, whatever shapes of work it runs.

An engine adapter is created (cheap, nothing started), started (an embedded cluster, or a
connection to ``address``), used, and closed. The base class owns the skeleton once, as
joblib's backends own ``effective_n_jobs``: :meth:`Engine.start` is final (the
started-guard, the worker count, close-on-failure, and wrapping any start failure in
:class:`EngineStartError`); an adapter writes :meth:`Engine._start` and :meth:`Engine.close`.

What an engine can do is declared as data the runner reads before anything is built:

* ``shapes``: derived from the sub-contracts the class implements (tasks, batch,
  streams: :mod:`distlab.contracts.tasks`, :mod:`.batch`, :mod:`.streams`), never set by
  hand and never tested with isinstance;
* capability flags (``supports_actors``, ``supports_resources``, ...);
* ``check_address``: how a user's ``--address`` for this engine is checked before a run.

``close`` stops every process and server the adapter started (by PID, never by name),
leaves no listening port behind, and is idempotent.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, final

from distlab.contracts.errors import DistlabError, EngineStartError, first_line
from distlab.procs import port_open, split_host_port

if TYPE_CHECKING:
    from distlab.contracts.plugin import EnginePlugin

# The shapes of work (seed 004's taxonomy).
TASKS = "tasks"
BATCH = "batch"
STREAMS = "streams"
DATAFRAME = "dataframe"


def check_tcp_address(name: str, address: str, timeout: float = 3.0) -> None:
    """The usual address check: ``[scheme://]host:port`` and something answering there."""
    try:
        host, port = split_host_port(address)
    except ValueError:
        raise EngineStartError(f"--address {name}={address!r}: expected host:port") from None
    if not port_open(host, port, timeout):
        raise EngineStartError(
            f"cannot reach {name} at {address} (nothing answers on {host}:{port})"
        )


class Broker(Protocol):
    """A server an engine started for itself and depends on (a broker: distlab.services),
    as fault injection sees it (``--kill-broker``)."""

    #: what the reports call it, e.g. "redis 127.0.0.1:6379"
    label: str
    #: its process (None once stopped)
    pid: int | None
    #: restart() brings it back with the data it had (Redis with an append-only file);
    #: False: its data die with it (an in-memory broker)
    keeps_data: bool

    def alive(self) -> bool: ...

    def restart(self) -> None:
        """Start it again where it was (same address, same data when ``keeps_data``)."""
        ...


class Engine:
    """Base class of every engine adapter (see the module docstring)."""

    name: ClassVar[str] = "?"
    #: the shapes of work this engine runs: set from the sub-contracts it implements
    shapes: ClassVar[frozenset[str]] = frozenset()
    #: a sub-contract names its shape here; engines never set it
    contract_shape: ClassVar[str | None] = None
    #: submit_with(resources=...) schedules by named resources (e.g. {"GPU": 1})
    supports_resources: ClassVar[bool] = False
    #: create_actor() gives stateful workers
    supports_actors: ClassVar[bool] = False
    #: share() uses a native object store / scatter / broadcast (else by value)
    supports_shared_objects: ClassVar[bool] = False
    #: the engine needs an external server (a broker); started on loopback if no address
    needs_server: ClassVar[bool] = False
    #: every job starts processes of its own (containers, tasks, client JVMs) and ends
    #: them: a warm-up run leaves nothing warm for the next, so cells take none (unless a
    #: fault needs a run to aim at)
    jobs_start_fresh: ClassVar[bool] = False
    #: form of --address for this engine, shown in help and errors
    address_help: ClassVar[str] = ""
    #: the server or cluster the engine starts when no address is given (None: only
    #: processes of its own library), e.g. "KRaft broker and controller, one node";
    #: ``server_version()`` names it
    server: ClassVar[str | None] = None
    #: the engine's declaration (its package's PLUGIN): the options it accepts come from
    #: it; None: an engine without one takes its options unchecked
    plugin: ClassVar[EnginePlugin | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.shapes = frozenset(
            shape for base in cls.__mro__ if (shape := base.__dict__.get("contract_shape"))
        )

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        self.address = address
        self.workers = workers
        #: every declared option, typed, its default when not given (an unknown name or a
        #: bad value is one line, DistlabError, before anything starts)
        self.options: dict[str, Any] = (
            self.plugin.read_options(options) if self.plugin is not None else dict(options)
        )
        self.started = False
        #: results the engine delivered more than once and the adapter dropped
        #: (at-least-once engines count them; the others never deliver twice)
        self.duplicates = 0

    # -- declarations the runner reads before starting anything -------------------------
    @classmethod
    def check_address(cls, address: str) -> None:
        """Raise :class:`EngineStartError` (one line) unless ``address`` can work.

        The default wants ``[scheme://]host:port`` with something listening; engines whose
        address is not one TCP endpoint override it."""
        check_tcp_address(cls.name, address)

    @classmethod
    def default_workers(cls) -> int:
        """Workers of an embedded cluster when the user did not say: one per core."""
        return os.cpu_count() or 1

    @classmethod
    def server_version(cls) -> str | None:
        """Name and version of what ``server`` starts (e.g. "Apache Kafka 4.4.0"), read
        from the pins or the binary without starting it; None when there is no server."""
        return None

    @classmethod
    def capabilities(cls) -> dict[str, bool]:
        """The optional capabilities, by name, as declared (what a workload may need)."""
        return {
            "supports_resources": cls.supports_resources,
            "supports_actors": cls.supports_actors,
            "supports_shared_objects": cls.supports_shared_objects,
        }

    # -- lifecycle ----------------------------------------------------------------------
    @final
    def start(self) -> Engine:
        """Start the embedded cluster (or connect to ``address``). Idempotent.

        On any failure everything started so far is closed, and the error reaches the
        caller as EngineStartError (a DistlabError: one line for the user)."""
        if self.started:
            return self
        if self.workers is None:
            self.workers = self.default_workers()
        try:
            self._start()
        except BaseException as exc:  # KeyboardInterrupt too: stop what was started
            try:
                self.close()
            except Exception:
                pass
            if isinstance(exc, DistlabError) or not isinstance(exc, Exception):
                raise
            first = first_line(exc)
            raise EngineStartError(f"{self.name} did not start: {first}") from exc
        self.started = True
        return self

    def _start(self) -> None:
        """Bring the engine up; called once by :meth:`start`, with ``workers`` set."""

    def close(self) -> None:
        """Stop everything this adapter started (by PID). Idempotent; safe after a
        failed or partial start."""
        self.started = False

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- observation --------------------------------------------------------------------
    def worker_pids(self) -> list[int]:
        """PIDs of worker processes on this machine (for fault injection)."""
        return []

    def process_roots(self) -> list[int]:
        """PIDs (besides the driver's own tree) whose trees belong to this engine."""
        return []

    def broker(self) -> Broker | None:
        """The server this engine started and depends on (engines that ``needs_server``
        and started their own); None: none, or the user's (not ours to kill)."""
        return None

    def health(self) -> str | None:
        """Why this engine cannot run more work now (e.g. a killed worker took its whole
        cluster with it, its broker died), or None when it can. The engine process asks
        after a fault and restarts the engine (close, start) when it cannot go on."""
        return None

    def describe(self) -> dict[str, Any]:
        """Settings worth recording with the results (address, worker count, ...)."""
        return {"address": self.address or "embedded", "workers": self.workers}
