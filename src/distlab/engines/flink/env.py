"""Flink's own virtual environment: created on first use, cached, shared between runs.

apache-flink pins numpy<2.2, pyarrow<17, cloudpickle~=2.2, grpcio<1.66 and protobuf<6
(through apache-beam), which clash with the main environment, so the Flink engine runs
in a separate interpreter. ``ensure()`` builds that virtualenv once from the pinned file
shipped in the package (engines/flink/requirements.txt), under a file lock so that two
processes never build it at the same time, and returns its python.

Where: ``$DISTLAB_FLINK_VENV`` if set, else ``~/.cache/distlab/flink-venv-<hash>`` (the
hash covers the pins and the Python version, so new pins give a new environment).
distlab itself is made importable there without its dependencies (a .pth to the source
tree, or a copy of the installed package); the pins carry the few it imports.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from distlab.contracts import EngineUnavailable

#: the distlab package directory (three levels up: distlab/engines/flink/env.py)
PACKAGE_DIR = Path(__file__).resolve().parents[2]
REQUIREMENTS = Path(__file__).with_name("requirements.txt")
ENV_VAR = "DISTLAB_FLINK_VENV"
#: written last: an environment without it is incomplete and is rebuilt
READY_MARKER = ".distlab-flink-ready"
#: records where the venv's distlab comes from, so a moved source tree is re-linked
SOURCE_STAMP = ".distlab-source"
#: seconds building the environment may take (waiting for another builder included)
#: before it is stopped and reported in one line; the variable overrides it
BUILD_TIMEOUT_VAR = "DISTLAB_FLINK_BUILD_TIMEOUT"
BUILD_TIMEOUT_S = 1200.0


def build_timeout() -> float:
    raw = os.environ.get(BUILD_TIMEOUT_VAR)
    if not raw:
        return BUILD_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise EngineUnavailable(f"{BUILD_TIMEOUT_VAR} must be a positive number of seconds")
    return value


def _timed_out(what: str, timeout: float, log: Path | None = None) -> EngineUnavailable:
    where = f" (log: {log})" if log is not None else ""
    return EngineUnavailable(
        f"building the Flink environment took longer than {timeout:g} s ({what}): "
        f"stopped{where}; {BUILD_TIMEOUT_VAR} sets the limit"
    )


def pinned_version(distribution: str) -> str:
    """The version requirements.txt pins for ``distribution`` ("?" if it pins none)."""
    for line in REQUIREMENTS.read_text().splitlines():
        name, _, version = line.partition("==")
        if name.strip().lower() == distribution:
            return version.strip()
    return "?"


#: how the environment is built: a change here builds it anew (2: bytecode compiled)
BUILD = "2"


def pins_hash() -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + BUILD.encode())
    digest.update(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    return digest.hexdigest()[:12]


def venv_dir() -> Path:
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser().resolve()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "distlab" / f"flink-venv-{pins_hash()}"


def venv_python(directory: Path | None = None) -> Path:
    return (directory or venv_dir()) / "bin" / "python"


def _inside_venv(directory: Path) -> bool:
    return Path(sys.prefix).resolve() == directory.resolve()


def is_ready() -> bool:
    directory = venv_dir()
    return _inside_venv(directory) or (
        (directory / READY_MARKER).exists() and venv_python(directory).exists()
    )


def _uv() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin  # the `uv` wheel, when installed in this environment

        return find_uv_bin()
    except Exception:
        return None


def _java() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def unavailable_reason() -> str | None:
    """Why the Flink environment cannot be used or built here (None: it can)."""
    if _java() is None:
        return "Flink needs Java 11+ on PATH or in JAVA_HOME: apt-get install openjdk-17-jre-headless"
    if is_ready():
        return None
    if _uv() is None:
        try:
            import ensurepip  # noqa: F401  (python -m venv needs it to bring pip)
        except ImportError:
            return "cannot build the Flink environment: neither uv nor ensurepip is available"
    return None


def available() -> bool:
    """True when the Flink environment exists or can be created on this machine."""
    return unavailable_reason() is None


def _source_root() -> Path | None:
    """The src/ directory holding distlab when running from a source tree, else None."""
    src = PACKAGE_DIR.parent
    if src.name == "src" and (src.parent / "pyproject.toml").exists():
        return src
    return None


def _site_packages(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Path(out.stdout.strip())


def _link_distlab(directory: Path) -> None:
    """Make this distlab importable in the venv (without touching its pinned deps)."""
    src = _source_root()
    stamp = f"{src or PACKAGE_DIR}:{_package_version()}"
    stamp_file = directory / SOURCE_STAMP
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return
    site = _site_packages(venv_python(directory))
    copied = site / "distlab"
    if copied.exists():
        shutil.rmtree(copied)
    pth = site / "distlab-source.pth"
    if src is not None:
        # A source tree: point at it, so edits are live in both environments.
        pth.write_text(f"{src}\n")
    else:
        # An installed distlab sits among the main environment's packages: copy only it.
        pth.unlink(missing_ok=True)
        shutil.copytree(PACKAGE_DIR, copied, ignore=shutil.ignore_patterns("__pycache__"))
    stamp_file.write_text(stamp)


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("distlab")
    except PackageNotFoundError:
        return "0"


def _run_logged(cmd: list[str], log: Path, deadline: float, timeout: float) -> None:
    """Run one build step, logged; past the build's deadline it is killed and the build
    fails in one line."""
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        try:
            done = subprocess.run(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=max(0.1, deadline - time.monotonic()),
            )
        except subprocess.TimeoutExpired:
            raise _timed_out(Path(cmd[0]).name, timeout, log) from None
    if done.returncode != 0:
        tail = log.read_text().strip().splitlines()[-1:] or ["?"]
        raise EngineUnavailable(
            f"could not build the Flink environment (log: {log}): {tail[0][:200]}"
        )


def _build(directory: Path, deadline: float, timeout: float) -> None:
    log = directory.with_name(directory.name + ".install.log")
    log.write_text("")
    if directory.exists():  # a build that was interrupted: start again
        shutil.rmtree(directory)
    print(
        f"distlab: creating the Flink environment in {directory} (first use only; "
        f"installs apache-flink {pinned_version('apache-flink')} and its pins from PyPI, "
        "a few minutes)...",
        file=sys.stderr,
        flush=True,
    )
    started = time.monotonic()
    uv = _uv()
    python = venv_python(directory)
    limits = (deadline, timeout)
    if uv:
        _run_logged(
            [uv, "venv", "--quiet", "--python", sys.executable, str(directory)], log, *limits
        )
        _run_logged(
            [uv, "pip", "install", "--compile-bytecode", "--python", str(python),
             "-r", str(REQUIREMENTS)], log, *limits,
        )  # fmt: skip
    else:
        _run_logged([sys.executable, "-m", "venv", str(directory)], log, *limits)
        _run_logged(
            [str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], log, *limits
        )
    _link_distlab(directory)
    (directory / READY_MARKER).write_text(f"{time.monotonic() - started:.1f}\n")
    print(
        f"distlab: Flink environment ready in {time.monotonic() - started:.0f} s",
        file=sys.stderr,
        flush=True,
    )


def ensure() -> str:
    """The Flink environment's python, building the environment first if needed."""
    directory = venv_dir()
    if _inside_venv(directory):
        return sys.executable
    reason = unavailable_reason()
    if reason:
        raise EngineUnavailable(reason)
    timeout = build_timeout()
    deadline = time.monotonic() + timeout
    directory.parent.mkdir(parents=True, exist_ok=True)
    lock_path = directory.with_name(directory.name + ".lock")
    with lock_path.open("w") as lock:
        # a concurrent builder finishes first (within the same deadline); then we reuse
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise _timed_out("waiting for another build", timeout) from None
                time.sleep(0.5)
        try:
            if not (directory / READY_MARKER).exists():
                _build(directory, deadline, timeout)
            else:
                _link_distlab(directory)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return str(venv_python(directory))


if __name__ == "__main__":  # python -m distlab.engines.flink.env: build it now, print its python
    print(ensure())
