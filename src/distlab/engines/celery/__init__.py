"""Celery with Redis: the engine (engine.py) and the app its workers load (app.py)."""
