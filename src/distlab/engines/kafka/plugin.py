"""Kafka, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option

PLUGIN = EnginePlugin(
    name="kafka",
    engine="distlab.engines.kafka.engine:KafkaEngine",
    shapes=frozenset({"tasks", "streams"}),
    capabilities=frozenset({"needs_server"}),
    server="KRaft broker and controller, one node",
    extra="kafka",
    probe=("confluent_kafka",),
    libraries=("confluent-kafka",),
    deploy="distlab.engines.kafka.hosts:deploy",
    options=(
        Option("partitions", int, None, "task topic partitions (not set: 2 x workers)",
               minimum=1),
        Option("session_timeout_ms", int, None,
               "group failure detection (not set: 3000; 6000 on a user's cluster)",
               minimum=1),
        Option("max_message_bytes", int, 64 << 20, "largest task or result", minimum=1),
        # the clients' FETCH_WAIT_MS (distlab.services.kafka.clients, which imports the
        # library this module must not)
        Option("fetch_wait_ms", int, 100, "longest wait of an idle fetch", minimum=0),
        Option("restart_workers", bool, True, "replace a worker process that dies"),
        Option("group", str, None,
               "use GROUP-tasks, GROUP-results and workers started elsewhere"),
    ),
)  # fmt: skip
