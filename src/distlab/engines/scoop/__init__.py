"""SCOOP: the engine (engine.py, the driver's side), the program SCOOP launches on its
origin (bridge.py) and what runs under SCOOP's launcher (origin.py)."""
