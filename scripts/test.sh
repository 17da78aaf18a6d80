#!/usr/bin/env bash
# Set up (if needed) and run the test suite against real engines on 127.0.0.1.
# Extra arguments go to pytest (e.g. -m "not slow", -k ray).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check src tests
# the layer order of ARCHITECTURE.md (pyproject.toml [tool.importlinter])
.venv/bin/lint-imports --no-cache
# Every engine must be present: a test that cannot import its engine's library or build
# Flink's environment fails instead of skipping (tests/present.py), so a broken install
# cannot leave CI green. Unset it to run a partial install's tests locally.
export DISTLAB_REQUIRE_ENGINES=1
# the slowest tests named at the end: where CI's time goes
exec .venv/bin/python -m pytest --durations=15 "$@"
