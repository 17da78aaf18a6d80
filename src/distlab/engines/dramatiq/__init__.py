"""Dramatiq with its Redis broker and Results middleware: the engine (engine.py) and the
broker and actor its workers load (app.py)."""
