"""Ray: the engine (engine.py), its futures and task wrappers (futures.py), its Ray Data
queries (dataframe.py), and its deployment across test hosts (hosts.py)."""
