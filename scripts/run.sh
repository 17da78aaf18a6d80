#!/usr/bin/env bash
# Set up (if needed) and run the main job: every workload on every engine, embedded
# clusters and servers on 127.0.0.1. Extra arguments go to `distlab run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/distlab run "$@"
