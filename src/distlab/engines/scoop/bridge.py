"""The script SCOOP's launcher runs: ``python -m scoop -n N bridge.py HOST:PORT KEYFILE``.

SCOOP runs one whole program under its launcher; distlab's driver submits tasks one at a
time instead. This script is that program: on SCOOP's origin it connects back to the
driver and relays tasks to SCOOP's workers (distlab.engines.scoop.origin.serve).

SCOOP's workers import this file as a module (named SCOOP_WORKER), so it must do nothing
at import time; everything is under the __main__ guard.
"""

import sys

if __name__ == "__main__":
    from distlab.engines.scoop.origin import serve

    serve(sys.argv[1], sys.argv[2])
