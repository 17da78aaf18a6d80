"""What distlab reads about the threads engine before importing it: registered in
pyproject.toml as ``threads = "distlab_threads.plugin:PLUGIN"`` in the
``distlab.engines`` entry-point group. Imports nothing but distlab's contracts."""

from distlab.contracts import TASKS, EnginePlugin, Option

PLUGIN = EnginePlugin(
    name="threads",
    engine="distlab_threads.engine:ThreadsEngine",
    shapes=frozenset({TASKS}),
    install="pip install distlab-threads",
    libraries=("distlab-threads",),
    deploy_why="its threads live in the driver's process",
    options=(
        Option(
            "close_wait_s",
            float,
            10.0,
            "seconds close() waits for running tasks; their threads then end with the process",
            minimum=0,
        ),
    ),
)
