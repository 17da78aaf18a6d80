"""`distlab run --hosts N`: each engine deployed across the test hosts by its own
multi-node tooling (distlab.engines.<engine>.hosts, named by its plugin), its cells run by an
engine process on the driver's host h0 against that deployment's address, then the
deployment stopped by PID. An engine that cannot span hosts here says why in its cells."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

from distlab import registry
from distlab.contracts import DistlabError
from distlab.hosts import netns
from distlab.hosts.deploy import Deployment
from distlab.run.model import CellRecord, RunSpec
from distlab.run.stream_broker import needs_stream_broker
from distlab.run.stream_broker_on_hosts import start_stream_broker


@contextmanager
def hosts_for_run(spec: RunSpec) -> Iterator[netns.TestHosts | None]:
    """The run's test hosts (None without --hosts): those ``distlab cluster up`` made,
    as they are and left up, when they are as many and the run asks nothing of the
    links; else new ones, up for the run and down after it."""
    if not spec.hosts:
        yield None
        return
    links = spec.links
    existing = netns.TestHosts.load()
    asked = links.get("rtt_ms") or links.get("loss_pct") or links.get("rate")
    if existing is not None and len(existing.hosts) == spec.hosts and not asked:
        if set(netns.namespaces()) >= {h.netns for h in existing.hosts}:
            spec.links.update(rtt_ms=existing.rtt_ms, loss_pct=existing.loss_pct,
                              rate=existing.rate)  # fmt: skip
            yield existing
            return
    hosts = netns.up(spec.hosts, links.get("rate"), links.get("rtt_ms", 0.0),
                     links.get("loss_pct", 0.0))  # fmt: skip
    try:
        yield hosts
    finally:
        netns.down()


def deploy_engine(name: str, hosts: netns.TestHosts, workers: int, gpus: int = 0) -> Deployment:
    """``name`` deployed across ``hosts`` by the function the registry names for it
    (DistlabError if there is none), declaring ``gpus`` logical GPUs if it schedules by
    resources."""
    entry = registry.entry(name)
    if not entry.deploy:
        raise DistlabError(
            f"{name}: {entry.deploy_why or 'distlab cannot deploy it across hosts yet'}"
        )
    module, func = entry.deploy.split(":")
    deploy = getattr(importlib.import_module(module), func)
    if gpus and registry.engine_class(name).supports_resources:
        return deploy(hosts, workers, gpus=gpus)
    return deploy(hosts, workers)


@contextmanager
def deployed(name: str, spec: RunSpec, cells: list[CellRecord]) -> Iterator[Deployment | None]:
    """``name`` deployed on the hosts; None (its cells recorded in ``cells`` as
    unsupported or failed, with the reason) when it cannot be."""
    hosts = netns.TestHosts.load()
    hook = registry.entry(name).deploy
    if hosts is None or not hook:
        reason = registry.entry(name).deploy_why or "distlab cannot deploy it across hosts yet"
        cells += [CellRecord(name, w, status="unsupported", reason=f"--hosts: {reason}")
                  for w in spec.workloads]  # fmt: skip
        yield None
        return
    try:
        gpus = int(spec.options.get(name, {}).get("gpus") or 0)
        dep = deploy_engine(name, hosts, spec.workers or 2, gpus)
        if needs_stream_broker(name, spec):
            with dep.undone_on_failure():
                start_stream_broker(dep)
    except (DistlabError, OSError, TimeoutError) as exc:
        error = f"--hosts: deploying {name} failed: {exc}"
        cells += [CellRecord(name, w, status="failed", error=error) for w in spec.workloads]
        yield None
        return
    try:
        yield dep
    finally:
        dep.stop()
