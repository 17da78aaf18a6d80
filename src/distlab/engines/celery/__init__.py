"""Celery with Redis: the engine (engine.py), the app its workers load (app.py) and the
driver's side of the results (results.py)."""
