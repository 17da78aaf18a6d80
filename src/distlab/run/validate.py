"""What a run asks for, checked before anything starts: the engines (and their addresses,
options and worker counts), the workloads (and their parameters, sizes, the user's
functions), the faults. One line (DistlabError) on anything that cannot work; the
command line validates once, then runs the matrix with ``checked=True``."""

from __future__ import annotations

from typing import Any

from distlab import registry
from distlab.contracts import DistlabError
from distlab.contracts.plugin import PRESET_SEPARATOR
from distlab.run.model import RunSpec
from distlab.workloads import WORKLOADS, register_functions, workload_class
from distlab.workloads.base import SIZES


def default_engines() -> list[str]:
    return [n for n, e in registry.ENGINES.items() if e.installed()]


def with_delivery_presets(engines: list[str], faulted: bool) -> list[str]:
    """With a fault injected (--kill-worker, --kill-broker), each engine that declares
    delivery presets (a queue: its defaults, at-least-once) runs once with each, as
    ``rq:defaults`` and ``rq:at_least_once``; a name that chose its preset stays as it is."""
    if not faulted:
        return engines
    expanded: list[str] = []
    for name in engines:
        presets = registry.entry(name).delivery_presets
        if registry.split_name(name)[1] is not None or not presets:
            expanded.append(name)
        else:
            expanded += [f"{name}{PRESET_SEPARATOR}{p.name}" for p in presets]
    return list(dict.fromkeys(expanded))


def known_workloads() -> list[str]:
    return list(WORKLOADS)


def default_workloads() -> list[str]:
    """What ``distlab run`` runs when no workload is named: the built-ins the main job
    holds (groupby is asked for by name: its default size is db-benchmark's 1e7 rows)."""
    return [w for w in WORKLOADS if workload_class(w).in_main_job]


def function_workloads(
    function: str | None, items: str | None, verify: str | None = None
) -> dict[str, dict[str, Any]]:
    """RunSpec.functions for ``--function`` (empty without it): the workload is named
    after the function (its full MODULE:NAME when that name is a built-in workload's)."""
    if function is None:
        if items or verify:
            raise DistlabError("--items and --verify go with --function")
        return {}
    from distlab.workloads.user import FunctionSpec

    if items is None:
        raise DistlabError(f"--function {function} needs --items (a callable or a file)")
    name = function.rpartition(":")[2] or function
    if name in WORKLOADS or not name.isidentifier():
        name = function
    return {name: FunctionSpec(function, items, verify).to_dict()}


def validate_engines(
    engines: list[str], addresses: dict[str, str], workers: int | None = None
) -> None:
    """The engines, their addresses and the worker count (what `distlab bench` takes too):
    one line (DistlabError) on anything that cannot work."""
    for name in engines:
        registry.entry(name)
    if workers is not None and workers < 1:
        raise DistlabError("--workers must be >= 1")
    for name, address in addresses.items():
        registry.entry(name)
        if name not in engines:
            raise DistlabError(f"--address given for {name!r}, which is not among --engines")
        registry.engine_class(name).check_address(address)


def validate(spec: RunSpec) -> None:
    """Fail fast, with one line, on anything that cannot work (once per run: the command
    line calls it before it prints anything, then runs the matrix with ``checked=True``)."""
    validate_engines(spec.engines, spec.addresses, spec.workers)
    register_functions(spec.functions)
    for name in spec.workloads:
        workload_class(name)
    if spec.functions:
        from distlab.workloads.user import FunctionSpec, resolve

        for name, fields in spec.functions.items():
            resolve(FunctionSpec(**fields), name)  # imports, items, shippable: now
    for name, params in spec.params.items():
        if name not in spec.workloads:
            raise DistlabError(f"--param given for {name!r}, which is not among --workloads")
        # names, types and ranges, against each workload's declaration
        workload_class(name).check_params(params)
    if spec.size not in SIZES:
        raise DistlabError(f"unknown size {spec.size!r}; choose from: {', '.join(SIZES)}")
    if spec.repeats < 1 or spec.warmup < 0:
        raise DistlabError("--repeats must be >= 1 and --warmup >= 0")
    if spec.hosts:
        from distlab.hosts.netns import require_privileges

        require_privileges()
        if spec.hosts < 2 or spec.addresses:
            raise DistlabError("--hosts needs at least 2 hosts, and no --address")
    counts = spec.worker_counts
    if counts and (min(counts) < 1 or len(set(counts)) != len(counts)):
        raise DistlabError(f"--workers must list distinct counts >= 1, not {counts}")
    if sum((spec.kill_worker, spec.kill_broker, spec.cut_host)) > 1:
        raise DistlabError("--kill-worker, --kill-broker and --cut-host: choose one fault per run")
    if spec.cut_host and not spec.hosts:
        raise DistlabError(
            "--cut-host needs --hosts: it takes one of the test hosts off the network"
        )
    if not spec.cell_timeout > 0:
        raise DistlabError("--cell-timeout must be a positive number of seconds")
    for name, options in spec.options.items():
        gpus = options.get("gpus")
        if gpus is not None and (not isinstance(gpus, int) or gpus < 0):
            raise DistlabError(f"--gpus must be a whole number >= 0 (got {gpus!r} for {name})")
        # names, types and ranges, against the engine's declared options
        registry.check_options(name, options)
