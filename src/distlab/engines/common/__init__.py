"""What several engine adapters share: ``addressing`` (the pieces of ``check_address``),
``units`` (a task's granted resource units in its environment), ``mainmodule`` (worker
processes that do not re-run the driver's ``__main__``) and ``hosted_streams`` (the
stream workload run by long-lived tasks of a task engine)."""
