"""The parsers of `distlab run`'s options that need the engines' registry or the test
hosts (the plain ones are in cli_options, below everything)."""

from __future__ import annotations

from distlab.cli_options import params_of, parse_ms, parse_pct
from distlab.contracts import DistlabError


def engine_options(option: list[str] | None, engines: list[str], gpus: int | None) -> dict:
    """``--option ENGINE.KEY=VALUE`` per engine of the run (and ``--gpus`` to the engines
    that schedule by GPUs)."""
    from distlab import registry

    options = params_of(option, "--option", "ENGINE")
    # an engine's options reach each of its settings presets (rq: rq:at_least_once too)
    named = {*engines, *(registry.split_name(e)[0] for e in engines)}
    for name in options:
        if name not in named:
            raise DistlabError(f"--option {name}.…: {name!r} is not an engine of this run")
    if gpus is not None:
        # to the engines that schedule by GPUs (declare the option); the others run the
        # GPU workload's tasks without them, or say it is unsupported
        for name in engines:
            if registry.entry(name).declares("gpus"):
                options.setdefault(name, {})["gpus"] = gpus
    return options


def links_of(hosts: int, rtt: str | None, loss: str | None, rate: str | None) -> dict:
    """The test hosts' links (``--rtt``, ``--loss``, ``--rate``), checked now."""
    from distlab.hosts.toxiproxy import check_rtt

    if not hosts and (rtt or loss or rate):
        raise DistlabError("--rtt, --loss and --rate go with --hosts")
    rtt_ms = parse_ms(rtt, "--rtt")
    # refused now, not rounded later: the results record the round trip the links carry
    check_rtt(rtt_ms, "--rtt")
    return {"rtt_ms": rtt_ms, "loss_pct": parse_pct(loss, "--loss"), "rate": rate}
