#!/usr/bin/env bash
# Set up (if needed) and run the test suite against real engines on 127.0.0.1.
# Extra arguments go to pytest (e.g. -m "not slow", -k ray).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check src tests
exec .venv/bin/python -m pytest "$@"
