"""Quix Streams as a distlab engine: the stream shape (see engine.py)."""
