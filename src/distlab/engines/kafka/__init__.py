"""Kafka as a work queue and a stream processor: the engine (engine.py), the driver's
results side (results.py), its worker processes (worker.py) and its stream processors
(stream.py; the driver's stream harness is distlab.services.kafka.harness)."""
