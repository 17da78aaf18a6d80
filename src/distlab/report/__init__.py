"""What distlab shows: views of results files, and the other tables the command prints.

From a results file (they read the file only, never run anything): ``terminal`` (the
summary tables and printed findings), ``html`` (the offline page), ``plots`` (PNG/SVG),
``compare`` (two files, cell by cell), ``recommend`` and ``facts`` (the derived
statements). Every workload-specific figure is read through ``figures``.

Beside them: ``bench_tables`` (the figures of `distlab bench`) and ``catalog`` (`distlab engines` and `distlab workloads`).
"""
