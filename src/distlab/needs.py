"""What an engine needs beyond its Python libraries, checked without starting anything,
and what is fetched or built on its first use.

An installed wheel carries the pins (the JVM poms, Flink's requirements) but none of what
scripts/setup.sh makes from them: the JVM parts (Maven, from Maven Central), Flink's own
environment (from PyPI) and Toxiproxy (Go, from the Go module proxy) are made on first
use, each saying so in one line. What cannot be made (Java, Maven, Go, sshd, root) is a
one-line error naming the command that installs it. ``distlab doctor`` reports all of it;
``prepare`` runs before an engine process starts, so that a fetch's line is seen and a
missing tool fails the engine's cells in one line instead of an engine process's log.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from distlab import jvm

#: what each engine needs beyond its Python libraries: "java", "jvm" (the pinned JVM
#: parts), "jvm-streams" (those parts for the stream workload only), "flink-env"
ENGINE_NEEDS: dict[str, tuple[str, ...]] = {
    "kafka": ("java", "jvm"),  # its broker is Apache Kafka's own JVM
    "spark": ("java", "jvm-streams"),  # Spark's Kafka source and sink for streams
    "flink": ("java", "flink-env", "jvm-streams"),
    "mapreduce": ("java", "jvm"),  # Hadoop's HDFS, YARN and streaming jars
}
#: the workload whose events travel through distlab's own Kafka broker (a JVM)
STREAM_WORKLOAD = "stream"
SSHD_INSTALL = "apt-get install openssh-server openssh-client"
IPROUTE_INSTALL = "apt-get install iproute2"


@dataclass(frozen=True)
class Check:
    """One thing something needs: present or not, where, and the command that makes it."""

    what: str
    present: bool
    detail: str = ""
    fix: str = ""
    #: absent now, but made automatically on first use (what makes it is present)
    on_first_use: bool = False

    @property
    def blocks(self) -> bool:
        return not self.present and not self.on_first_use


def _java() -> Check:
    try:
        return Check("java", True, jvm.java())
    except Exception:
        return Check("java", False, "no Java runtime", f"{jvm.JAVA_INSTALL} (or set JAVA_HOME)")


def _tool(name: str, fix: str, also: str | None = None) -> Check:
    found = shutil.which(name) or (also if also and os.path.exists(also) else None)
    return Check(name, bool(found), found or "not on PATH", "" if found else fix)


def _jvm_parts(what: str = "JVM parts") -> list[Check]:
    mvn = _tool("mvn", jvm.MAVEN_INSTALL)
    root = jvm.jars_root()
    if jvm.ready():
        return [Check(what, True, str(root))]
    parts = Check(
        what,
        False,
        "fetched from Maven Central on first use (about 230 MB)",
        "python -m distlab.jvm fetch",
        on_first_use=mvn.present,
    )
    return [mvn, parts]


def _flink_env() -> list[Check]:
    from distlab.engines.flink import env

    if env.is_ready():
        return [Check("Flink's environment", True, str(env.venv_dir()))]
    reason = env.unavailable_reason()
    if reason and "Java" not in reason:  # neither uv nor ensurepip: nothing can build it
        return [Check("Flink's environment", False, reason, "pip install uv")]
    return [
        Check(
            "Flink's environment",
            False,
            "built from PyPI on first use (a few minutes)",
            "python -m distlab.engines.flink.env",
            on_first_use=True,
        )
    ]


def engine_checks(name: str) -> list[Check]:
    """What engine ``name`` needs beyond its Python libraries (none: nothing to check)."""
    needs = ENGINE_NEEDS.get(name, ())
    checks = [_java()] if "java" in needs else []
    if "flink-env" in needs:
        checks += _flink_env()
    if "jvm" in needs:
        checks += _jvm_parts()
    elif "jvm-streams" in needs:
        checks += _jvm_parts("JVM parts (streams)")
    return checks


def stream_checks() -> list[Check]:
    """The stream workload's own broker: Java and the JVM parts, on any engine."""
    return [_java(), *_jvm_parts()]


def hosts_checks() -> list[Check]:
    """What `--hosts` needs: root and iproute2 for the namespaces, sshd for SCOOP's
    workers, Go to build Toxiproxy (delay where the kernel has no netem)."""
    from distlab.hosts import toxiproxy

    root = os.geteuid() == 0
    checks = [
        Check("root", root, "" if root else "not root", "" if root else "run as root"),
        _tool("ip", IPROUTE_INSTALL),
        _tool("tc", IPROUTE_INSTALL),
        _tool("sshd", SSHD_INSTALL, also="/usr/sbin/sshd"),
    ]
    binary = toxiproxy.binary_path()
    if binary.is_file():
        return [*checks, Check("Toxiproxy", True, str(binary))]
    go = _tool("go", toxiproxy.GO_INSTALL)
    built = Check(
        "Toxiproxy",
        False,
        f"built with Go on first use ({toxiproxy.VERSION})",
        "python -m distlab.hosts.toxiproxy fetch",
        on_first_use=go.present,
    )
    return [*checks, go, built]


def prepare(name: str, workloads: list[str], address: str | None = None) -> None:
    """Before engine ``name`` runs ``workloads``: Java checked and the JVM parts fetched
    (once, in this process: its one line is seen), or one line (EngineUnavailable) with
    the command that installs what is missing. Flink's environment is built by the
    registry's interpreter hook, the stream broker's parts by the broker itself."""
    needs = ENGINE_NEEDS.get(name, ())
    if "java" in needs:
        jvm.java()
    streams = STREAM_WORKLOAD in workloads
    own_broker = name == "kafka" and not address  # an --address brings its own broker
    if ("jvm" in needs and (own_broker or name != "kafka")) or ("jvm-streams" in needs and streams):
        jvm.fetch()
