"""Polars, lazy SQL on its streaming engine: engine.py."""
