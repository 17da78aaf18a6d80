"""Toxiproxy (Shopify's TCP proxy for latency, bandwidth limits and cuts) in front of the
links it can sit on, where the kernel has no netem to delay the links themselves.

The server is a Go program built once from the Go module proxy at the version pinned
here (``python -m distlab.hosts.toxiproxy fetch``, which scripts/setup.sh runs, or on
first use, saying so in one line) into ``~/.cache/distlab/bin``. On a test host, :func:`start` runs one server (its API on the
host's loopback); :meth:`Toxiproxy.proxy` then listens on that host's loopback and
forwards to a server on another host, half the round trip added in each direction, so
that a client on that host connecting to the proxy sees the whole RTT. Toxiproxy's
latency is whole milliseconds, so only an even number of milliseconds is a round trip
it can add exactly; any other is refused (:func:`each_way_ms`), never rounded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from distlab.contracts import DistlabError
from distlab.hosts import netns
from distlab.hosts.netns import Host

#: the pinned release (github.com/Shopify/toxiproxy/v2 on the Go module proxy)
VERSION = "v2.12.0"
MODULE = "github.com/Shopify/toxiproxy/v2"
API_PORT = 8474
#: the one command that installs Go (Debian's package, as scripts/setup.sh)
GO_INSTALL = "apt-get install golang-go"


def binary_path() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "distlab" / "bin"
    return cache / f"toxiproxy-server-{VERSION}"


def fetch() -> Path:
    """Build the pinned toxiproxy-server with Go (once); its path."""
    path = binary_path()
    if path.is_file():
        return path
    go = shutil.which("go")
    if go is None:
        raise DistlabError(f"Toxiproxy is built with Go, which is not installed: {GO_INSTALL}")
    print(
        f"distlab: building Toxiproxy {VERSION} with Go from the Go module proxy into "
        f"{path.parent} (first use only; a minute or two)...",
        file=sys.stderr,
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="distlab-go-") as gobin:
        res = subprocess.run(
            [go, "install", f"{MODULE}/cmd/server@{VERSION}"],
            env={**os.environ, "GOBIN": gobin, "CGO_ENABLED": "0"},
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        if res.returncode != 0:
            raise DistlabError(f"building Toxiproxy {VERSION} failed: {res.stderr.strip()[-300:]}")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(os.path.join(gobin, "server"), path)
    return path


def each_way_ms(rtt_ms: float, flag: str = "--rtt") -> int:
    """The whole milliseconds a proxy adds in each direction for a round trip of
    ``rtt_ms``; one line (DistlabError) when no whole number adds exactly that."""
    half = rtt_ms / 2
    if half < 0 or half != int(half):
        raise DistlabError(
            f"{flag} {rtt_ms:g} ms cannot be applied exactly without netem: Toxiproxy delays "
            "each direction by whole milliseconds, so the round trip must be an even number "
            "of ms (0, 2, 4, 6, ...)"
        )
    return int(half)


def check_rtt(rtt_ms: float, flag: str = "--rtt") -> None:
    """Before anything starts: one line unless ``rtt_ms`` can be applied exactly here,
    by Toxiproxy (an even number of ms) or by netem (which takes fractions)."""
    try:
        each_way_ms(rtt_ms, flag)
    except DistlabError:
        # netem is tried in a namespace of its own, which needs root; without root the
        # hosts cannot be made at all, and Toxiproxy's limit is the one that stands
        if os.geteuid() == 0 and shutil.which("tc") and netns.netem_available_here():
            return
        raise


@dataclass
class Toxiproxy:
    """A toxiproxy server running on ``host`` (API on the host's 127.0.0.1)."""

    host: Host
    proc: subprocess.Popen
    proxies: dict[str, int] = field(default_factory=dict)
    #: proxy name -> the round trip it adds (ms): twice the whole milliseconds each way
    applied_rtt_ms: dict[str, int] = field(default_factory=dict)

    def _api(self, method: str, path: str, body: dict | None = None) -> dict:
        code = (
            "import json, sys, urllib.request\n"
            f"req = urllib.request.Request('http://127.0.0.1:{API_PORT}{path}', method={method!r},"
            f" data={json.dumps(body).encode() if body else None!r},"
            " headers={'Content-Type': 'application/json'})\n"
            "print(urllib.request.urlopen(req, timeout=10).read().decode())\n"
        )
        # the API listens inside the host's namespace: ask from there
        res = subprocess.run(self.host.command([sys.executable, "-c", code]),
                             capture_output=True, text=True, timeout=30)  # fmt: skip
        if res.returncode != 0:
            raise DistlabError(f"toxiproxy on {self.host.name}: {res.stderr.strip()[-200:]}")
        return json.loads(res.stdout or "{}")

    def proxy(self, name: str, listen_port: int, upstream: str, rtt_ms: float) -> str:
        """A proxy on this host's 127.0.0.1:listen_port to ``upstream`` (host:port), half
        of ``rtt_ms`` added each way (DistlabError, before anything is made, when that is
        not a whole number of ms); its address."""
        each_way = each_way_ms(rtt_ms)
        self._api("POST", "/proxies", {"name": name, "listen": f"127.0.0.1:{listen_port}",
                                       "upstream": upstream, "enabled": True})  # fmt: skip
        for stream in ("upstream", "downstream"):
            self._api(
                "POST",
                f"/proxies/{name}/toxics",
                {
                    "name": f"delay-{stream}",
                    "type": "latency",
                    "stream": stream,
                    "attributes": {"latency": each_way, "jitter": 0},
                },  # fmt: skip
            )
        self.proxies[name] = listen_port
        self.applied_rtt_ms[name] = 2 * each_way
        return f"127.0.0.1:{listen_port}"


def start(host: Host, logdir: Path) -> Toxiproxy:
    """A toxiproxy server on ``host``, ready for proxies."""
    binary = fetch()
    log = open(logdir / f"toxiproxy-{host.name}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        host.command([str(binary), "-host", "127.0.0.1", "-port", str(API_PORT)]),
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    log.close()
    tp = Toxiproxy(host, proc)
    deadline = time.monotonic() + 20
    while True:
        try:
            tp._api("GET", "/version")
            return tp
        except DistlabError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise DistlabError(f"toxiproxy did not start on {host.name}") from None
            time.sleep(0.2)


if __name__ == "__main__" and sys.argv[1:] == ["fetch"]:
    print(fetch())
