"""``distlab bench``: benchmarks that print figures and ratios measured in one run.

tasks.py (granularity, tiny tasks), break_even.py, data_size.py, streams.py, rtt.py: one
module per benchmark, each a cell that runs inside an engine process of its own
(process.py) started by runner.py; model.py: the bench job; cli.py: the sub-commands.
"""
