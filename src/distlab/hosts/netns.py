"""Test hosts on one machine: Linux network namespaces joined by a bridge.

Host i is the network namespace ``distlab-h<i>`` with one interface, ``eth0``, addressed
198.18.0.<i+1>/24 (198.18.0.0/15 is set aside for network benchmarks, RFC 2544). The other
end of each host's veth pair sits on a bridge inside a namespace of its own, the switch
(``distlab-sw``), so nothing is added to the machine's own namespace or attached to its
interfaces: the hosts reach each other and nothing else (no default route, no NAT).

A link's rate is limited with tc's token bucket (tbf) on the host's side. Delay and loss
need netem; where the kernel has no netem (``tc`` answers "Specified qdisc kind is
unknown"), ``netem`` in the state is False and delay is left to a proxy in front of the
links it can sit on (distlab.hosts.toxiproxy).

``up`` writes a state file before it creates anything and ``down`` removes everything the
file names, also after a crash: namespaces (their interfaces go with them) and every
process still running inside them, stopped by PID.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from distlab.contracts import DistlabError
from distlab.procs import stop_pids

PREFIX = "distlab"
SWITCH = f"{PREFIX}-sw"
BRIDGE = "br0"
SUBNET = "198.18.0"
MAX_HOSTS = 200


def state_path() -> Path:
    return Path(os.environ.get("DISTLAB_STATE_DIR") or "/run/distlab") / "hosts.json"


@dataclass
class Host:
    name: str  # h0, h1, ...
    netns: str
    address: str

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run inside this host's network namespace."""
        return ["ip", "netns", "exec", self.netns, *argv]


@dataclass
class TestHosts:
    hosts: list[Host]
    rate: str | None = None
    rtt_ms: float = 0.0
    loss_pct: float = 0.0
    #: whether the kernel has netem (delay and loss put on the links themselves)
    netem: bool = False
    switch: str = SWITCH
    #: processes distlab started on the hosts (also found through the namespaces)
    pids: list[int] = field(default_factory=list)
    #: client -> server links go through a Toxiproxy even at 0 ms (without netem), so a
    #: comparison across round-trip times differs by the delay alone (distlab bench rtt)
    proxied: bool = False

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise DistlabError(f"no test host {name!r}; the hosts are {', '.join(self.names)}")

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.hosts]

    def save(self) -> None:
        path = state_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls) -> TestHosts | None:
        try:
            data = json.loads(state_path().read_text())
        except (OSError, ValueError):
            return None
        data["hosts"] = [Host(**h) for h in data.get("hosts", [])]
        return cls(**data)


def require_privileges() -> None:
    """One line unless this process may create namespaces (root, iproute2's ``ip``)."""
    if os.geteuid() != 0:
        raise DistlabError("test hosts need root (network namespaces and veth pairs): run as root")
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            raise DistlabError(f"test hosts need {tool!r} from iproute2 (apt install iproute2)")


def _ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["ip", *(["-n", netns] if netns else []), *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and res.returncode != 0:
        raise DistlabError(f"{' '.join(cmd)}: {res.stderr.strip() or res.returncode}")
    return res


def _tc(netns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["ip", "netns", "exec", netns, "tc", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and res.returncode != 0:
        raise DistlabError(f"tc {' '.join(args)}: {res.stderr.strip() or res.returncode}")
    return res


def netem_available(netns: str) -> bool:
    """Try a netem qdisc on the namespace's loopback (and take it away again)."""
    res = _tc(netns, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms", check=False)
    if res.returncode != 0:
        return False
    _tc(netns, "qdisc", "del", "dev", "lo", "root", check=False)
    return True


def netem_available_here() -> bool:
    """Whether this kernel has netem (tried in a scratch namespace)."""
    scratch = f"{PREFIX}-probe"
    _ip("netns", "add", scratch)
    try:
        return netem_available(scratch)
    finally:
        _ip("netns", "del", scratch, check=False)


def up(
    n: int,
    rate: str | None = None,
    rtt_ms: float = 0.0,
    loss_pct: float = 0.0,
    proxied: bool = False,
) -> TestHosts:
    """Create ``n`` hosts; any earlier set is taken down first."""
    require_privileges()
    if not 1 <= n <= MAX_HOSTS:
        raise DistlabError(f"--hosts must be between 1 and {MAX_HOSTS}, not {n}")
    if rtt_ms < 0 or not 0 <= loss_pct < 100:
        raise DistlabError("--rtt must be >= 0 and --loss in [0, 100)")
    down()
    hosts = [Host(f"h{i}", f"{PREFIX}-h{i}", f"{SUBNET}.{i + 1}") for i in range(n)]
    state = TestHosts(hosts, rate, rtt_ms, loss_pct, proxied=proxied)
    state.save()  # first: a crash half-way is still taken down by `down`
    try:
        _ip("netns", "add", SWITCH)
        _ip("link", "set", "lo", "up", netns=SWITCH)
        _ip("link", "add", BRIDGE, "type", "bridge", netns=SWITCH)
        _ip("link", "set", BRIDGE, "up", netns=SWITCH)
        for i, h in enumerate(hosts):
            _ip("netns", "add", h.netns)
            _ip("link", "set", "lo", "up", netns=h.netns)
            port = f"p{i}"
            # both ends are created in the switch, then one moves into the host
            _ip("link", "add", port, "type", "veth", "peer", "name", "eth0", netns=SWITCH)
            _ip("link", "set", "eth0", "netns", h.netns, netns=SWITCH)
            _ip("link", "set", port, "master", BRIDGE, netns=SWITCH)
            _ip("link", "set", port, "up", netns=SWITCH)
            _ip("addr", "add", f"{h.address}/24", "dev", "eth0", netns=h.netns)
            _ip("link", "set", "eth0", "up", netns=h.netns)
        state.netem = netem_available(SWITCH)
        if loss_pct and not state.netem:
            raise DistlabError(
                "--loss needs netem, which this kernel lacks (tc: 'Specified qdisc kind is "
                "unknown'); a TCP proxy such as Toxiproxy cannot drop packets"
            )
        for h in hosts:
            _shape(h, state)
        state.save()
    except BaseException:
        down()
        raise
    return state


def _shape(h: Host, state: TestHosts) -> None:
    """Delay and loss (netem, half the RTT each way) and a rate limit (tbf) on eth0."""
    netem = []
    if state.netem and state.rtt_ms:
        netem += ["delay", f"{state.rtt_ms / 2:g}ms"]
    if state.netem and state.loss_pct:
        netem += ["loss", f"{state.loss_pct:g}%"]
    if netem:
        _tc(h.netns, "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "netem", *netem)
    if state.rate:
        parent = ["parent", "1:1"] if netem else ["root"]
        _tc(h.netns, "qdisc", "add", "dev", "eth0", *parent, "handle", "10:", "tbf",
            "rate", state.rate, "burst", "256kb", "latency", "50ms")  # fmt: skip


def namespace_pids(netns: str) -> list[int]:
    res = _ip("netns", "pids", netns, check=False)
    return [int(x) for x in res.stdout.split() if x.isdigit()]


def namespaces() -> list[str]:
    """The names of the machine's network namespaces."""
    out = _ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def down() -> list[str]:
    """Remove every namespace the state file names (and any left by a crash before it was
    written whole: the fixed names), stopping every process inside them first."""
    state = TestHosts.load()
    names = [h.netns for h in state.hosts] if state else []
    existing = namespaces()
    names += [n for n in existing if n.startswith(f"{PREFIX}-") and n not in names]
    names = [n for n in names if n in existing]
    pids = set(state.pids if state else [])
    for n in names:
        pids |= set(namespace_pids(n))
    stop_pids(sorted(pids), grace=5.0)
    removed = []
    for n in [*[x for x in names if x != SWITCH], *[x for x in names if x == SWITCH]]:
        if _ip("netns", "del", n, check=False).returncode == 0:
            removed.append(n)
    try:
        state_path().unlink()
    except OSError:
        pass
    return removed
