"""PyFlink in its own environment: the environment builder (env.py, imported in the main
environment, so this package imports nothing at load), the engine, its jobs and streams."""
