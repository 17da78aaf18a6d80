"""Huey with Redis storage (or SQLite, without a server): the engine (engine.py) and the
Huey instance its consumer loads (app.py)."""
