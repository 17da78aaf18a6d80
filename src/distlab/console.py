"""Where the `distlab` command writes: the shared rich console and one-line errors.

Every command prints through ``console`` so that tables get the same width everywhere.
``run_command`` is the one place a DistlabError becomes what the user sees: a single
``error: ...`` line on stderr and exit status 2 (bad input, unreachable cluster), never a
traceback. This module imports nothing else of distlab's but the error type, so the CLI
and the report package can both import it without importing each other.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console

from distlab.contracts import DistlabError

#: exit status of a DistlabError (bad input, an engine that cannot start)
EXIT_USAGE = 2
#: exit status after Ctrl-C (128 + SIGINT), as shells report it
EXIT_INTERRUPTED = 130

# Tables are wide: give pipes and CI logs room instead of folding every cell.
console = Console() if sys.stdout.isatty() else Console(width=160)


def print_plain(text: str) -> None:
    """Print text as it is: paths and sentences with brackets are not rich markup."""
    console.print(text, markup=False, highlight=False)


def run_command(app: Callable[[], Any]) -> None:
    """Run the command line; a DistlabError or Ctrl-C ends it with one line and a status."""
    try:
        app()
    except DistlabError as exc:
        print(f"error: {exc}", file=sys.stderr)  # one line, never wrapped
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        print("interrupted: everything started was stopped", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
