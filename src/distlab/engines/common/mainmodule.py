"""Starting worker processes from a main module that is not a file (``python -``).

multiprocessing's spawn and forkserver start methods make every new process re-run the
parent's main module from its ``__file__``, so that functions defined there can be found
by name. A script read from standard input has ``__file__ == '<stdin>'``, which names no
file: each new process then fails while it bootstraps. Hiding ``__file__`` while such a
process is started makes it skip that step, as for ``python -c`` or a notebook, whose
main module has no ``__file__`` at all; their functions must then travel by value
(cloudpickle), which the engines that start processes this way do. A main module that
is a real file is left alone: re-running it is how multiprocessing finds its functions.

Only the standard library is imported here: the forkserver's children unpickle
:class:`ForkServerProcess` by importing this module.
"""

from __future__ import annotations

import contextlib
import multiprocessing.context
import os
import sys
import threading
from collections.abc import Iterator
from types import ModuleType

# Processes may be started from several threads at once (a pool spawns its workers on
# demand from whichever thread submits); __main__ is shared, so hiding is counted.
_lock = threading.Lock()
_depth = 0
_hidden: tuple[ModuleType, str] | None = None


def _names_no_file(path: object) -> bool:
    if not isinstance(path, str):
        return True
    # a relative path is resolved as multiprocessing resolves it: from the start directory
    start = getattr(multiprocessing.process, "ORIGINAL_DIR", None) or os.getcwd()
    return not os.path.isfile(os.path.join(start, path))


@contextlib.contextmanager
def main_file_hidden() -> Iterator[None]:
    """Inside: ``__main__.__file__`` is absent if it named no file (else untouched)."""
    global _depth, _hidden
    with _lock:
        if _depth == 0:
            main = sys.modules.get("__main__")
            path = getattr(main, "__file__", None)
            if main is not None and path is not None and _names_no_file(path):
                del main.__file__
                _hidden = (main, path)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _hidden is not None:
                main, path = _hidden
                main.__file__ = path
                _hidden = None


class ForkServerProcess(multiprocessing.context.ForkServerProcess):
    """A forkserver process started with ``__main__.__file__`` hidden if it names no file:
    every process a pool starts, including those it starts later on demand (Python
    3.11's ProcessPoolExecutor spawns workers as tasks arrive) or to replace a dead one."""

    @staticmethod
    def _Popen(process_obj):
        with main_file_hidden():
            return multiprocessing.context.ForkServerProcess._Popen(process_obj)


class ForkServerContext(multiprocessing.context.ForkServerContext):
    """The forkserver context whose processes are :class:`ForkServerProcess`."""

    Process = ForkServerProcess
