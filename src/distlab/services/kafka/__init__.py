"""Apache-Kafka-protocol broker, admin and client helpers shared by every engine that
reads or writes Kafka topics."""
