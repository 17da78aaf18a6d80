"""Kafka as a work queue and a stream processor: the engine (engine.py), its worker
processes (worker.py) and its stream processors (stream.py)."""
