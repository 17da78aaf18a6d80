"""DuckDB, in-process SQL over Parquet: engine.py."""
