"""An Apache Kafka broker on loopback: one KRaft node (broker and controller in one JVM,
no ZooKeeper), from the pinned Maven Central artifacts (:mod:`distlab.jvm`, module
``kafka-broker``).

    from distlab.services.kafka.broker import KafkaBroker, create_topics

    with KafkaBroker() as broker:          # or: broker = KafkaBroker().start(); broker.stop()
        create_topics(broker.bootstrap, {"events": 4})
        ...  # any Kafka client: bootstrap.servers = broker.bootstrap ("127.0.0.1:PORT")

Its storage is formatted in a temporary directory (``StorageTool format --standalone``)
and kept until ``stop()``: ``restart()`` brings a killed broker back on the same ports
with its log, as a real broker restarts. The settings are those of a single node
(``SETTINGS``): replication factor 1 for the internal topics, no initial rebalance delay
for consumer groups, both listeners on 127.0.0.1.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from distlab import jvm
from distlab.contracts import EngineStartError
from distlab.procs import free_port, stop_pids, wait_port

#: the embedded broker listens on loopback only (distlab.hosts gives a test host's address)
_HOST = "127.0.0.1"
#: the broker's heap: Kafka keeps its data in the page cache, not on the heap
HEAP_MB = 768

#: the broker's settings beyond listeners and storage: those of a single node
SETTINGS = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.listener.names": "CONTROLLER",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "inter.broker.listener.name": "PLAINTEXT",
    "num.partitions": "1",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "8",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    # a consumer group forms at once instead of waiting 3 s for more members
    "group.initial.rebalance.delay.ms": "0",
    # the kafka engine's workers detect a dead member within 3 s (the default floor is 6 s)
    "group.min.session.timeout.ms": "1000",
    "auto.create.topics.enable": "false",
    "delete.topic.enable": "true",
}

# WARN and above only, to the broker's own log file
_LOG4J2 = """Configuration:
  Appenders:
    Console:
      name: STDOUT
      target: SYSTEM_OUT
      PatternLayout:
        Pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
"""


def kafka_version() -> str:
    return jvm.pins()["kafka.version"]


#: the brokers this process started and that still run, by bootstrap (streams warm up a
#: broker of distlab's own before their first measured run, never a user's)
RUNNING: dict[str, KafkaBroker] = {}


class KafkaBroker:
    """One Apache Kafka broker JVM on 127.0.0.1 (KRaft, combined roles).

    ``start()`` returns once the port accepts connections (``startup_s`` says how long
    formatting and starting took); ``bootstrap`` is the ``host:port`` for
    ``bootstrap.servers``; ``stop()`` ends the JVM by PID and removes its storage; it is
    idempotent. Works as a context manager.
    """

    #: its log is on disk (page cache): a killed broker restarts with its topics and offsets
    keeps_data = True

    def __init__(self, port: int | None = None, start_timeout: float = 60.0, host: str = _HOST):
        #: the address it listens on and advertises (a test host's, for distlab.hosts)
        self.host = host
        self.port = port
        self.controller_port: int | None = None
        self.start_timeout = start_timeout
        self.startup_s: float | None = None
        self.version = kafka_version()
        self._dir: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._log = None
        #: its JVM has run stream traffic since it (re)started (harness.warm_up_broker)
        self.warmed_up = False
        #: more listeners: name -> (port on ``host``, the host:port it advertises), e.g.
        #: one per test host whose clients reach it through a proxy there (distlab.hosts)
        self.extra_listeners: dict[str, tuple[int, str]] = {}

    @property
    def bootstrap(self) -> str:
        if self.port is None:
            raise RuntimeError("broker not started")
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def label(self) -> str:
        where = self.bootstrap if self.port is not None else "(not started)"
        return f"Apache Kafka {self.version} broker {where}"

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit status once it died (-9: SIGKILL), None while it runs."""
        return self._proc.returncode if self._proc is not None else None

    def settings(self) -> dict[str, str]:
        """What the results record of the broker."""
        return {
            "server": f"Apache Kafka {self.version}",
            "mode": "KRaft, one combined broker+controller node",
            "heap_mb": str(HEAP_MB),
            **SETTINGS,
        }

    def start(self) -> KafkaBroker:
        if self._proc is not None:
            return self
        t0 = time.perf_counter()
        try:
            self.port = self.port or free_port(self.host)
            self.controller_port = self.controller_port or free_port(self.host)
            self._launch(self.prepare())
        except BaseException:  # also on KeyboardInterrupt: leave nothing behind
            self.stop()
            raise
        self.startup_s = time.perf_counter() - t0
        RUNNING[self.bootstrap] = self
        return self

    def prepare(self) -> Path:
        """Its directory, properties and formatted storage (ports set by the caller or
        start()); the properties file that ``launch_command`` runs."""
        self._dir = Path(tempfile.mkdtemp(prefix="distlab-kafka-"))
        props = self._dir / "server.properties"
        props.write_text(self._properties())
        (self._dir / "log4j2.yaml").write_text(_LOG4J2)
        self._format(props)
        return props

    def launch_command(self, props: Path) -> list[str]:
        """The broker's JVM command line (for a launcher of its own, e.g. on a test host)."""
        return self._java("kafka.Kafka", str(props))

    @property
    def directory(self) -> Path | None:
        return self._dir

    def restart(self) -> None:
        """Start it again on the same ports with the log it had (after a kill)."""
        if self._dir is None:
            raise RuntimeError("broker never started")
        if self.alive():
            return
        self._close_log()
        self._launch(self._dir / "server.properties")

    def _properties(self) -> str:
        assert self._dir is not None
        extra = self.extra_listeners
        lines = {
            **SETTINGS,
            "listener.security.protocol.map": ",".join(
                [SETTINGS["listener.security.protocol.map"], *(f"{n}:PLAINTEXT" for n in extra)]
            ),
            "listeners": ",".join(
                [
                    f"PLAINTEXT://{self.host}:{self.port}",
                    f"CONTROLLER://{self.host}:{self.controller_port}",
                    *(f"{n}://{self.host}:{port}" for n, (port, _) in extra.items()),
                ]
            ),  # fmt: skip
            "advertised.listeners": ",".join(
                [
                    f"PLAINTEXT://{self.host}:{self.port}",
                    *(f"{n}://{a}" for n, (_, a) in extra.items()),
                ]
            ),
            "controller.quorum.bootstrap.servers": f"{self.host}:{self.controller_port}",
            "log.dirs": str(self._dir / "data"),
        }
        return "".join(f"{k}={v}\n" for k, v in lines.items())

    def _java(self, *args: str) -> list[str]:
        assert self._dir is not None
        classpath = ":".join(str(j) for j in jvm.classpath("kafka-broker"))
        return [
            jvm.java(),
            f"-Xmx{HEAP_MB}m",
            # plain IPv4 sockets on 127.0.0.1 (not IPv6 ones bound to ::ffff:127.0.0.1)
            "-Djava.net.preferIPv4Stack=true",
            f"-Dlog4j2.configurationFile={self._dir / 'log4j2.yaml'}",
            "-cp",
            classpath,
            *args,
        ]

    def _format(self, props: Path) -> None:
        # --standalone: this node is the whole controller quorum
        command = ["kafka.tools.StorageTool", "format", "--standalone"]
        command += ["-t", _cluster_id(), "-c", str(props)]
        try:
            done = subprocess.run(
                self._java(*command), capture_output=True, text=True, timeout=self.start_timeout
            )
        except subprocess.TimeoutExpired:
            raise EngineStartError("formatting the Kafka broker's storage timed out") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
            raise EngineStartError(f"could not format Kafka storage: {' '.join(tail)}")

    def _launch(self, props: Path) -> None:
        assert self._dir is not None
        log_path = self._dir / "broker.log"
        self.warmed_up = False  # a new JVM: its JIT starts cold
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        try:
            self._proc = subprocess.Popen(
                self.launch_command(props),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                cwd=self._dir,
            )
        except OSError as exc:
            raise EngineStartError(f"cannot run the Kafka broker: {exc}") from None
        try:
            wait_port(self.host, self.port, self.start_timeout, self._proc)
        except (RuntimeError, TimeoutError) as exc:
            lines = log_path.read_text(errors="replace").strip().splitlines()
            raise EngineStartError(
                f"the Kafka broker did not start on {self.bootstrap}: {exc}"
                + (f" ({lines[-1][:200]})" if lines else "")
            ) from None

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        if self.port is not None and RUNNING.get(self.bootstrap) is self:
            del RUNNING[self.bootstrap]
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_pids([proc.pid], grace=10.0)  # SIGTERM: a controlled shutdown, then KILL
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._close_log()
        directory, self._dir = self._dir, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _cluster_id() -> str:
    """A random cluster id in Kafka's form (a UUID in URL-safe base64, no padding). As
    Kafka's own Uuid.randomUuid(), never one starting with "-", which the storage tool's
    command line would read as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def check_metadata(bootstrap: str, timeout: float) -> None:
    """Something answers at ``bootstrap``: check that it speaks Kafka (one line)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise EngineStartError(
            f"Kafka at {bootstrap} did not answer a metadata request: {exc}"
        ) from None


def create_topics(
    bootstrap: str,
    topics: dict[str, int],
    timeout: float = 15.0,
    config: dict[str, str] | None = None,
) -> None:
    """Create ``{name: partitions}`` topics (replication factor 1, topic ``config`` such
    as ``max.message.bytes``); existing ones are kept."""
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    futures = admin.create_topics(
        [
            NewTopic(name, num_partitions=n, replication_factor=1, config=config or {})
            for name, n in topics.items()
        ],
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
