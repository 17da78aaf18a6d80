"""Taskiq with taskiq-redis (a list queue, or a stream with acknowledgements): the engine
(engine.py) and the broker its workers load (app.py)."""
