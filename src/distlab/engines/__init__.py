"""Engine adapters: one module or package per engine family, the only place its library
is imported. Shared by the adapters: ``addressing`` (the pieces of ``check_address``) and
``units`` (a task's granted resource units in its environment)."""
