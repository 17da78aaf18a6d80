"""``python -m distlab.jvm fetch``: fetch the pinned JVM parts now; print where they are."""

from __future__ import annotations

import sys

from distlab.contracts import DistlabError
from distlab.jvm import fetch, pins

if __name__ == "__main__":
    if sys.argv[1:] != ["fetch"]:
        sys.exit("usage: python -m distlab.jvm fetch")
    try:
        root = fetch(quiet=True)
    except DistlabError as exc:
        sys.exit(f"error: {exc}")
    print(root)
    print(" ".join(f"{k}={v}" for k, v in pins().items()))
