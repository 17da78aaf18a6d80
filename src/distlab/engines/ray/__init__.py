"""Ray: the engine (engine.py), its futures and task wrappers (futures.py), and its
deployment across test hosts (hosts.py)."""
