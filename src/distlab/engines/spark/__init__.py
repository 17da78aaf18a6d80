"""PySpark: tasks and batch (engine.py), Structured Streaming (stream.py)."""
