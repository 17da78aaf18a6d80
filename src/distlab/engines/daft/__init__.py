"""Daft, SQL on its native runner: engine.py."""
