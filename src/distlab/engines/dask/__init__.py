"""Dask distributed: the engine (engine.py), its futures and actors (futures.py), and its
deployment across test hosts (hosts.py)."""
