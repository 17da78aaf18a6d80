"""SCOOP across the test hosts by its own SSH launch: an OpenSSH server (``sshd``) started
in each worker host's namespace with a host key and an authorized key distlab makes for
this deployment only, and the driver's SCOOP launcher (origin and ZeroMQ broker on h0)
starting its workers there with ``ssh``, as on any cluster of hosts.

SCOOP has no server of its own: its broker runs beside the origin on the driver's host,
so every host after h0 takes workers. The ``ssh`` it calls is a small script in the
deployment's scratch directory that adds this deployment's key; no file of the user's
(``~/.ssh``) is read or written."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from distlab.contracts import DistlabError
from distlab.hosts.deploy import Deployment, build, carried, wait_for_port
from distlab.hosts.netns import Host, TestHosts

PORT = 22
#: sshd refuses to start without its privilege-separation directory
PRIVSEP_DIR = "/run/sshd"


def deploy(hosts: TestHosts, workers: int) -> Deployment:
    return build("scoop", hosts, workers, _start)


def _sshd() -> str:
    path = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.access(path, os.X_OK):
        raise DistlabError(
            "SCOOP across hosts needs OpenSSH's server (sshd): apt-get install openssh-server"
        )
    return path


def _keys(keydir: Path) -> tuple[Path, Path]:
    """A client key and a host key, both new, without passphrase."""
    client, host = keydir / "client_ed25519", keydir / "host_ed25519"
    for key in (client, host):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True, capture_output=True)  # fmt: skip
    (keydir / "authorized_keys").write_text(client.with_suffix(".pub").read_text())
    return client, host


def _ssh_script(keydir: Path, client_key: Path) -> str:
    """The ``ssh`` SCOOP calls: the system's client with this deployment's key and no
    user configuration."""
    script = keydir / "ssh"
    script.write_text(
        "#!/bin/sh\n"
        f'exec ssh -F /dev/null -i "{client_key}" -o IdentitiesOnly=yes -o LogLevel=ERROR "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def _sshd_command(sshd: str, host: Host, keydir: Path, host_key: Path) -> list[str]:
    options = {
        "ListenAddress": host.address,
        "Port": str(PORT),
        "AuthorizedKeysFile": str(keydir / "authorized_keys"),
        "PermitRootLogin": "prohibit-password",  # distlab runs as root for the namespaces
        "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no",
        "UsePAM": "no",
        "StrictModes": "no",  # the key sits under /tmp, not in a home directory
        "PidFile": "none",
    }
    argv = [sshd, "-D", "-e", "-f", "/dev/null", "-h", str(host_key)]
    for key, value in options.items():
        argv += ["-o", f"{key}={value}"]
    return argv


def _start(dep: Deployment, hosts: TestHosts, workers: int) -> None:
    sshd = _sshd()
    keydir = Path(tempfile.mkdtemp(prefix="distlab-hosts-ssh-"))
    dep.scratch.append(str(keydir))
    client_key, host_key = _keys(keydir)
    os.makedirs(PRIVSEP_DIR, mode=0o755, exist_ok=True)
    worker_hosts = hosts.hosts[1:]
    counts = [0] * len(worker_hosts)
    for i in range(workers):
        counts[i % len(counts)] += 1
    placed = [(h, c) for h, c in zip(worker_hosts, counts, strict=True) if c]
    # the driver's host too: SCOOP's launcher reaches its origin and broker there over
    # ssh, as it does any host it does not know by a local name
    for host in [dep.driver] + [h for h, _ in placed]:
        dep.start(f"sshd {host.name}", host, _sshd_command(sshd, host, keydir, host_key))
        wait_for_port(dep, host, PORT)
    # a host named once per worker: SCOOP gives each listed host as many workers
    dep.address = ",".join(h.address for h, c in placed for _ in range(c))
    dep.options = {
        "ssh_executable": _ssh_script(keydir, client_key),
        "external_hostname": dep.driver.address,  # where remote workers find the broker
    }
    dep.placement["origin and broker"] = dep.driver.name
    for i, (host, count) in enumerate(placed, start=1):
        dep.placement[f"workers {i} ({count}, over ssh)"] = host.name
    dep.links["workers <-> broker (ZeroMQ, ports SCOOP picks at start)"] = carried(hosts)
