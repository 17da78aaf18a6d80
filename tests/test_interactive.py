"""Functions and exception classes defined interactively work on every task engine.

Each case runs a NEW interpreter, as a user does, on one script that defines a function
and ``class MyError(ValueError)`` in ``__main__``, in the three forms whose ``__main__``
differs: ``python -c SCRIPT`` (no ``__file__``; a notebook is alike), ``python - <
SCRIPT`` (``__file__`` is '<stdin>', which names no file) and ``python FILE``. Nothing
run there can be imported by a worker by name: it travels by value, and the exception
must come back as the caller's own MyError with the worker's traceback as its cause.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from distlab import registry
from distlab.contracts import TASKS
from present import require_module

#: every engine that implements TaskEngine (test_the_list_names_every_task_engine)
TASK_ENGINES = [
    "local", "ray", "dask", "celery", "dramatiq", "rq", "huey", "taskiq", "arq", "kafka", "scoop",
    "spark",
]  # fmt: skip
#: the process pool starts in a fraction of a second; the others take seconds to ~15 s
#: per interpreter (a JVM for Kafka and Spark), two minutes for the lot
ENGINE_PARAMS = [
    pytest.param(name, marks=() if name == "local" else pytest.mark.slow) for name in TASK_ENGINES
]
FORMS = ["-c", "stdin", "file"]
#: seconds one interpreter may take: starting its engine and running a few tasks
TIMEOUT_S = 240

# The guard is what multiprocessing asks of a script (python FILE): its spawned workers
# import the file again.
SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    import distlab
    from distlab import RemoteTraceback


    class MyError(ValueError):
        pass


    def double(x):
        return 2 * x


    def fail(x):
        raise MyError(f"bad {x}")


    class Point:
        def __init__(self, x):
            self.x = x


    def make_point(x):
        return Point(x)


    def main(name):
        out = {}
        with distlab.engine(name, workers=2) as ex:
            out["map"] = ex.map(double, range(5))
            out["chunks"] = ex.map(double, range(5), chunksize=2)
            # results that are instances of a class of this __main__ come back as it
            points = [ex.submit(make_point, 4).result(timeout=60), *ex.map(make_point, [5])]
            out["points"] = [[type(p) is Point, p.x] for p in points]
            try:
                ex.submit(fail, 3).result(timeout=60)
                out["raised"] = None
            except Exception as exc:
                cause = exc.__cause__
                out["raised"] = f"{type(exc).__module__}.{type(exc).__qualname__}"
                out["is_my_error"] = type(exc) is MyError
                out["message"] = str(exc)
                out["cause"] = type(cause).__name__
                out["cause_is_remote"] = isinstance(cause, RemoteTraceback)
                out["traceback_names_fail"] = "in fail" in str(cause)
        print("RESULT " + json.dumps(out), flush=True)


    if __name__ == "__main__":
        main(sys.argv[1])
    """
)

EXPECTED = {
    "map": [0, 2, 4, 6, 8],
    "chunks": [0, 2, 4, 6, 8],
    "points": [[True, 4], [True, 5]],
    "raised": "__main__.MyError",
    "is_my_error": True,
    "message": "bad 3",
    "cause": "RemoteTraceback",
    "cause_is_remote": True,
    "traceback_names_fail": True,
}


def _run(form: str, engine: str, tmp_path) -> subprocess.CompletedProcess:
    stdin = None
    if form == "-c":
        argv = [sys.executable, "-c", SCRIPT, engine]
    elif form == "stdin":
        argv, stdin = [sys.executable, "-", engine], SCRIPT
    else:
        path = tmp_path / "interactive_script.py"
        path.write_text(SCRIPT)
        argv = [sys.executable, str(path), engine]
    # cwd: a directory with nothing importable in it, so `python -` finds no '<stdin>'
    # there and nothing the workers could import the script from
    return subprocess.run(
        argv, input=stdin, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=tmp_path
    )


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_main_module_functions_and_exceptions(engine, form, tmp_path):
    for module in registry.entry(engine).probe:
        require_module(module)  # skipped locally, failed in CI (tests/present.py)
    proc = _run(form, engine, tmp_path)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and len(lines) == 1, (
        f"exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    )
    assert json.loads(lines[0].removeprefix("RESULT ")) == EXPECTED, proc.stderr[-3000:]


def test_the_list_names_every_task_engine():
    installed = [name for name, e in registry.ENGINES.items() if e.installed()]
    tasks = {name for name in installed if TASKS in registry.engine_class(name).shapes}
    assert tasks <= set(TASK_ENGINES), sorted(tasks - set(TASK_ENGINES))
