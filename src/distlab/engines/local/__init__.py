"""A local process pool (the standard library's ProcessPoolExecutor): engine.py."""
