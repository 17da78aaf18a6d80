"""A distlab engine that runs tasks on threads of the driver's own process: the light
declaration (plugin.py, what distlab reads without importing the engine) and the engine
(engine.py)."""
