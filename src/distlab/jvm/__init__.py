"""The JVM parts distlab runs (an Apache Kafka broker, a Hadoop cluster, Spark's and
Flink's Kafka connectors, Flink's Parquet format), pinned in one place: ``pom.xml``
beside this file, one Maven module per classpath, every artifact from Maven Central.

``fetch()`` (``python -m distlab.jvm fetch``, run by scripts/setup.sh, and on first use by
whatever needs a jar: an installed wheel carries only the poms) copies each module's
runtime dependencies into a cache directory once, saying so in one line on stderr
(Maven's local repository then serves later fetches offline); ``classpath(module)``
gives the jars of one module. The cache
directory's name carries a hash of the pom files, so new pins give a new directory.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from distlab.contracts import EngineUnavailable

POM_DIR = Path(__file__).resolve().parent
MODULES = ("kafka-broker", "hadoop", "spark-kafka", "flink-kafka", "flink-parquet")
ENV_VAR = "DISTLAB_JARS"
#: written last: a directory without it is incomplete and is fetched again
READY_MARKER = ".distlab-jars-ready"
#: how long one fetch may take (a cold Maven repository downloads ~200 MB)
FETCH_TIMEOUT_S = 1200
_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
#: the one command that installs what is missing (Debian's packages, as scripts/setup.sh)
JAVA_INSTALL = "apt-get install openjdk-17-jre-headless"
MAVEN_INSTALL = "apt-get install maven"


def poms() -> list[Path]:
    return [POM_DIR / "pom.xml", *(POM_DIR / m / "pom.xml" for m in MODULES)]


def pins() -> dict[str, str]:
    """The pinned versions (the parent pom's properties), e.g. {'kafka.version': '4.4.0'}."""
    root = ET.parse(POM_DIR / "pom.xml").getroot()
    props = root.find("m:properties", _NS)
    return {
        child.tag.split("}", 1)[1]: (child.text or "").strip()
        for child in (props if props is not None else [])
        if not child.tag.endswith("distlab.jars")
    }


def jars_root() -> Path:
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    digest = hashlib.sha256()
    for pom in poms():
        digest.update(pom.read_bytes())
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "distlab" / f"jvm-{digest.hexdigest()[:12]}"


def ready() -> bool:
    return (jars_root() / READY_MARKER).exists()


def java() -> str:
    """The java executable: $JAVA_HOME/bin/java, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home) / "bin" / "java" if home else None
    if candidate and candidate.exists():
        return str(candidate)
    found = shutil.which("java")
    if not found:
        raise EngineUnavailable(f"no Java runtime (java) found: {JAVA_INSTALL} (or set JAVA_HOME)")
    return found


def fetch(quiet: bool = True) -> Path:
    """Copy every module's jars into the cache directory (once); return the directory."""
    root = jars_root()
    if ready():
        return root
    java()  # Maven runs on Java, as does everything these jars are for: say that first
    mvn = shutil.which("mvn")
    if not mvn:
        raise EngineUnavailable(
            f"Maven (mvn) fetches the JVM parts on first use and is not installed: {MAVEN_INSTALL}"
        )
    root.mkdir(parents=True, exist_ok=True)
    with open(root.with_name(root.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one fetch at a time
        if ready():
            return root
        pinned = pins()
        print(
            f"distlab: fetching the pinned JVM parts (Kafka {pinned.get('kafka.version')}, "
            f"Hadoop {pinned.get('hadoop.version')}, Spark's and Flink's Kafka connectors, "
            f"Flink's Parquet format; about 300 MB) from Maven Central into {root} "
            "(first use only; a few minutes)...",
            file=sys.stderr,
            flush=True,
        )
        started = time.monotonic()
        base = [mvn, "-B", *(["-q"] if quiet else []), "-f", str(POM_DIR / "pom.xml")]
        goal = ["dependency:copy-dependencies", f"-Ddistlab.jars={root}"]
        # offline first: a filled local repository needs no network
        done = subprocess.run([*base, "-o", *goal], capture_output=True, text=True)
        if done.returncode != 0:
            try:
                done = subprocess.run(
                    [*base, *goal], capture_output=True, text=True, timeout=FETCH_TIMEOUT_S
                )
            except subprocess.TimeoutExpired:
                raise EngineUnavailable(
                    f"fetching the JVM parts took over {FETCH_TIMEOUT_S} s"
                ) from None
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            raise EngineUnavailable(f"could not fetch the JVM parts: {' / '.join(tail)}")
        (root / READY_MARKER).write_text("ok\n")
        took = time.monotonic() - started
        print(f"distlab: JVM parts ready in {took:.0f} s", file=sys.stderr, flush=True)
    return root


def classpath(module: str) -> list[Path]:
    """The jars of one module (fetched first if they are not there yet)."""
    if module not in MODULES:
        raise ValueError(f"unknown JVM module {module!r}")
    jars = sorted((fetch() / module).glob("*.jar"))
    if not jars:
        raise EngineUnavailable(
            f"no jars for {module} in {jars_root()}: python -m distlab.jvm fetch"
        )
    return jars
