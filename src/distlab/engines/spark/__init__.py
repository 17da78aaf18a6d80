"""PySpark: tasks and batch (engine.py), Structured Streaming (stream.py), dataframe
queries on Spark SQL (dataframe.py)."""
