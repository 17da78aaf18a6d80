"""`distlab cluster up|down|status`: test hosts on this machine (network namespaces joined
by a bridge, distlab.hosts.netns), for running engines as multi-host clusters."""

from __future__ import annotations

from typing import Annotated

import typer

from distlab.cli_options import Rtt, parse_ms, parse_pct
from distlab.console import print_plain

cluster_app = typer.Typer(no_args_is_help=True, help="Test hosts on this machine (needs root).")


@cluster_app.command("up")
def up(
    hosts: Annotated[int, typer.Option(help="How many test hosts.")] = 3,
    rtt: Rtt = None,
    loss: Annotated[str | None, typer.Option(help="Packet loss per link, e.g. 0.1%.")] = None,
    rate: Annotated[str | None, typer.Option(help="Rate limit per link (tc), e.g. 1gbit.")] = None,
) -> None:
    """Create the test hosts (any earlier set is removed first)."""
    from distlab.hosts import netns
    from distlab.hosts.toxiproxy import check_rtt

    rtt_ms = parse_ms(rtt, "--rtt")
    check_rtt(rtt_ms, "--rtt")  # refused now, not when a run builds its proxies
    state = netns.up(hosts, rate=rate, rtt_ms=rtt_ms, loss_pct=parse_pct(loss, "--loss"))
    for h in state.hosts:
        print_plain(f"{h.name}  {h.address}  (ip netns exec {h.netns} ...)")
    if (state.rtt_ms or state.loss_pct) and not state.netem:
        print_plain(
            "this kernel has no netem: delay and loss are not on the links; a run puts a "
            "proxy (Toxiproxy) in front of the links it can sit on"
        )
    print_plain(f"state: {netns.state_path()}  (distlab cluster down removes everything)")


@cluster_app.command("down")
def down() -> None:
    """Remove every test host, link and process distlab made (also after a crash)."""
    from distlab.hosts import netns

    netns.require_privileges()
    removed = netns.down()
    print_plain(f"removed: {', '.join(removed)}" if removed else "no test hosts were up")


@cluster_app.command("status")
def status() -> None:
    """The test hosts that are up, if any."""
    from distlab.hosts import netns

    state = netns.TestHosts.load()
    if state is None:
        print_plain("no test hosts are up")
        return
    links = f"rate {state.rate or 'unlimited'}, rtt {state.rtt_ms:g} ms, loss {state.loss_pct:g}%"
    print_plain(f"{len(state.hosts)} hosts ({links}; netem: {'yes' if state.netem else 'no'})")
    for h in state.hosts:
        print_plain(f"{h.name}  {h.address}  {h.netns}")
