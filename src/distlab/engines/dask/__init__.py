"""Dask distributed: the engine (engine.py), its futures and actors (futures.py), Dask
DataFrame for the dataframe shape (dataframe.py), and its deployment across test hosts
(hosts.py)."""
