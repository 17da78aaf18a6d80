"""arq: asyncio jobs on Redis, the engine (engine.py) and the worker settings its workers
load (app.py)."""
