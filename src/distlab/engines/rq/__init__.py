"""RQ (Redis Queue): jobs on Redis run by `rq worker-pool`, each in a work-horse forked
for it (engine.py)."""
