"""Kafka-protocol services shared by every engine that reads or writes Kafka topics: the
embedded broker and topic admin (broker.py), client factories (clients.py) and the
driver-side stream harness (harness.py)."""
