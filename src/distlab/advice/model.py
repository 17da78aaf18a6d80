"""Each engine's costs measured now, on the started engine, and the time they predict for
one configuration (engine x chunk size x workers) of the user's function.

The costs are a calibration, not a benchmark: a few hundred no-op tasks through ``map``
(the per-task cost while the engine is kept busy, which is what a map of many tasks pays)
and one payload round trip (the per-byte cost of its data path). A bench run in the
history would be more thorough, but it is from another load, other versions, often
another machine; these seconds are from this one, and the race checks them anyway.

The prediction adds what a map pays, as if nothing overlapped:

    tasks x per-task cost                       (scheduling, messages, futures)
  + the busiest worker's items x (item time + the worker's pickling)
  + items x the driver's pickling               (one process, never in parallel)
  + items x (argument + result bytes) x per-byte cost
  + one task's round trip                      (the last result still has to come back)

Where the engine runs elsewhere (``--address``, the test hosts), the calibration runs
there too: its per-task cost, per-byte cost and round trip are those of the link to it.

The plain loop is predicted as items x item time. The race (distlab.advice.race) puts
every prediction beside a measurement; the worst ratio between them is the model's error,
and it decides how many configurations are run for real.
"""

from __future__ import annotations

import heapq
import ipaddress
import math
import os
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from distlab.advice.profile import Profile
from distlab.contracts import DistlabError, TaskEngine

#: no-op tasks timed through map (after CALIBRATION_WARMUP unmeasured ones)
CALIBRATION_TASKS = 300
CALIBRATION_WARMUP = 30
#: the payload of the data path's round trip: large enough that per-message costs fade
PAYLOAD_BYTES = 4_000_000
#: round trips timed (their median is the figure)
ROUND_TRIPS = 3
#: chunk sizes tried: one task per item, and n / (workers x k) for each k here (one task
#: per worker, then more, smaller tasks that even out uneven items)
TASKS_PER_WORKER = (1, 4, 16, 64)
#: beyond this many tasks, the busiest worker's load is n / workers (not simulated)
SIMULATED_TASKS = 20_000
#: the name of the plain loop among the configurations
LOOP = "loop"


@dataclass(frozen=True, order=True)
class Config:
    """One way to run the function: ``engine`` with ``workers``, ``chunk`` items a task."""

    engine: str
    workers: int
    chunk: int

    @property
    def is_loop(self) -> bool:
        return self.engine == LOOP

    def label(self) -> str:
        if self.is_loop:
            return "plain loop (one process)"
        return f"{self.engine} workers={self.workers} chunk={self.chunk:,}"


def loop_config() -> Config:
    return Config(LOOP, 1, 1)


@dataclass(frozen=True)
class EngineCosts:
    """One started engine's costs, measured by :func:`calibrate`."""

    engine: str
    workers: int
    #: seconds per task in a map of no-ops with every worker fed
    task_s: float
    #: seconds per byte sent to a task and back (beyond a no-op's round trip)
    byte_s: float
    #: seconds the engine took to start (paid once, outside every timed map)
    start_s: float
    #: one no-op task's round trip, submitted alone (median)
    round_trip_s: float = 0.0
    #: where it ran: "this machine", or the address it was pointed at
    where: str = "this machine"
    #: cores its workers share (this machine's, unless the cluster is elsewhere: then
    #: its worker count, as nothing tells distlab how many cores it has)
    cores: int = 1
    #: where the per-task cost came from: "measured now", or the bench in the history
    task_cost_from: str = "measured now"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _noop(x: Any) -> Any:
    return x


def calibrate(
    engine: TaskEngine,
    start_s: float,
    known_task_s: tuple[float, str] | None = None,
) -> EngineCosts:
    """The started ``engine``'s per-task and per-byte costs and its round trip, measured
    now; ``known_task_s``: a per-task cost already measured (by a recent bench in the
    history) and where it came from, used instead of timing the no-op map."""
    if known_task_s is None:
        engine.map(_noop, range(CALIBRATION_WARMUP))
        t0 = time.perf_counter()
        engine.map(_noop, range(CALIBRATION_TASKS))
        task_s, task_from = (time.perf_counter() - t0) / CALIBRATION_TASKS, "measured now"
    else:
        task_s, task_from = known_task_s
    payload = b"\x01" * PAYLOAD_BYTES
    empty, full = [], []
    for _ in range(ROUND_TRIPS):
        t0 = time.perf_counter()
        engine.submit(_noop, b"").result()
        empty.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        back = engine.submit(_noop, payload).result()
        full.append(time.perf_counter() - t0)
        if len(back) != PAYLOAD_BYTES:
            raise DistlabError(f"{engine.name}: the calibration payload came back cut")
    extra = statistics.median(full) - statistics.median(empty)
    workers = engine.workers or 1
    where = engine.address or "this machine"
    return EngineCosts(
        engine=engine.name,
        workers=workers,
        task_s=task_s,
        byte_s=max(0.0, extra / (2 * PAYLOAD_BYTES)),
        start_s=start_s,
        round_trip_s=statistics.median(empty),
        where=where,
        cores=(os.cpu_count() or 1) if shares_this_machine(engine.address) else workers,
        task_cost_from=task_from,
    )


def shares_this_machine(address: str | None) -> bool:
    """Whether an engine at ``address`` runs on this machine's cores: embedded, on
    loopback, or on the test hosts (network namespaces of this machine, 198.18.0.0/15)."""
    if not address:
        return True
    host = urlsplit(address if "://" in address else f"//{address}").hostname or ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    return ip.is_loopback or ip in TEST_HOSTS_NET


#: the addresses distlab gives its test hosts
TEST_HOSTS_NET = ipaddress.ip_network("198.18.0.0/15")


def chunk_sizes(n: int, workers: int) -> list[int]:
    """The chunk sizes worth predicting for ``n`` items on ``workers``."""
    sizes = {1} | {max(1, math.ceil(n / (workers * k))) for k in TASKS_PER_WORKER}
    return sorted(s for s in sizes if s <= n)


def busiest_worker_items(n: int, chunk: int, workers: int) -> int:
    """Items of the most loaded worker when ``n`` items go out in chunks of ``chunk``,
    each to the worker that is free first (40 items of 16 on 2 workers: 24, not 20)."""
    tasks = math.ceil(n / chunk)
    if tasks > SIMULATED_TASKS:
        return math.ceil(n / workers)
    loads = [0] * workers
    for i in range(tasks):
        size = min(chunk, n - i * chunk)
        heapq.heapreplace(loads, loads[0] + size)
    return max(loads)


class Model:
    """Predicted seconds for each configuration, from the profile and the engines'
    measured costs. Subclass it (or pass another factory to ``advise``) to try another
    model: the race measures whichever is given."""

    def __init__(self, profile: Profile, costs: dict[tuple[str, int], EngineCosts]):
        self.profile = profile
        self.costs = costs

    def add(self, costs: EngineCosts) -> None:
        self.costs[(costs.engine, costs.workers)] = costs

    def configs(self, engine: str, workers: int) -> list[Config]:
        return [Config(engine, workers, c) for c in chunk_sizes(self.profile.n_items, workers)]

    def predict(self, config: Config) -> float:
        p = self.profile
        if config.is_loop:
            return p.loop_s
        costs = self.costs[(config.engine, config.workers)]
        n = p.n_items
        tasks = math.ceil(n / config.chunk)
        # workers beyond the cores share them; the driver needs some too, but a loaded
        # driver is what the per-task cost was measured with
        parallel = max(1, min(config.workers, costs.cores, tasks))
        compute = busiest_worker_items(n, config.chunk, parallel) * (p.item_s + p.pickle_s)
        data = n * (p.arg_bytes + p.result_bytes) * costs.byte_s
        return tasks * costs.task_s + compute + n * p.pickle_s + data + costs.round_trip_s

    def break_even_s(self, engine: str, workers: int, efficiency: float = 0.9) -> float:
        """The item time at which one task per item reaches ``efficiency``: with per-task
        cost c and w workers a map takes n (c + t / w), so t / (t + c w) >= e at
        t = c w e / (1 - e) (9 c w at 90%)."""
        costs = self.costs[(engine, workers)]
        w = min(workers, costs.cores)
        return costs.task_s * w * efficiency / (1 - efficiency)


def model_error(pairs: list[tuple[float, float]]) -> float | None:
    """The model's worst ratio between prediction and measurement (1.0: exact; 3.0: off
    by 3x either way), over (predicted, measured) pairs; None without any."""
    ratios = [max(m / p, p / m) for p, m in pairs if p > 0 and m > 0]
    return max(ratios) if ratios else None
