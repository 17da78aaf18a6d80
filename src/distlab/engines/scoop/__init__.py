"""SCOOP: the engine (driver side), and the bridge SCOOP launches on its origin."""
