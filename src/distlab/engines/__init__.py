"""Engine adapters: one module per engine, the only place its library is imported."""
