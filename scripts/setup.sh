#!/usr/bin/env bash
# Installs everything distlab needs on a fresh Debian machine with Python 3.11:
# uv, the locked virtual environment (.venv, every engine extra), Java and Maven with the
# pinned JVM parts (Kafka broker, Hadoop, Spark's and Flink's Kafka connectors),
# Toxiproxy, OpenSSH's server, Flink's own environment, and with --test Chromium for the
# report's browser test. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

# One line per step on stderr, with its time ("setup: JVM parts ... 0.4 s"); a step's own
# output is kept out of sight and shown only if the step fails.
step() {
  local what=$1 started=$EPOCHREALTIME out rc=0
  shift
  printf 'setup: %s ... ' "$what" >&2
  out=$(mktemp)
  "$@" >"$out" 2>&1 || rc=$?
  if [ $rc != 0 ]; then
    echo "failed" >&2
    cat "$out" >&2
    rm -f "$out"
    return $rc
  fi
  rm -f "$out"
  awk -v a="${started/,/.}" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.1f s\n", b - a }' >&2
}

apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "setup: need root (or sudo) to apt-get install $*" >&2
    return 1
  fi
  [ $apt_updated = 1 ] || { apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v uv >/dev/null 2>&1; then
  step "uv (pip install uv==0.13.9)" \
    python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
fi
# with every module compiled to bytecode now: otherwise each engine process and worker
# parses its libraries' sources on every start wherever PYTHONDONTWRITEBYTECODE is set
# (importing scikit-learn took 2.75 s instead of 0.94 s here, in every worker)
# (uv leaves a lock file of its build in the temp dir: that dir is in distlab's cache)
uv_tmp="${XDG_CACHE_HOME:-$HOME/.cache}/distlab/uv-tmp"
mkdir -p "$uv_tmp"
step "python environment (uv sync, every extra)" \
  env TMPDIR="$uv_tmp" uv sync --frozen --all-extras --quiet --compile-bytecode

# Spark, Flink, the Kafka broker and Hadoop need a JVM (17 or newer); Maven fetches the
# pinned JVM parts (src/distlab/jvm/pom.xml) from Maven Central once, then works offline.
if ! command -v java >/dev/null 2>&1; then
  step "Java (apt-get install openjdk-17-jre-headless)" apt_install openjdk-17-jre-headless
fi
if ! command -v mvn >/dev/null 2>&1; then
  step "Maven (apt-get install maven)" apt_install maven
fi
step "JVM parts (Maven Central, pinned in src/distlab/jvm/pom.xml)" \
  .venv/bin/python -m distlab.jvm fetch
# Toxiproxy (delay on the test hosts' links where the kernel has no netem): built once
# with Go from the Go module proxy, at the version pinned in src/distlab/hosts/toxiproxy.py
if ! command -v go >/dev/null 2>&1; then
  step "Go (apt-get install golang-go)" apt_install golang-go
fi
step "Toxiproxy (built with Go)" .venv/bin/python -m distlab.hosts.toxiproxy fetch
# OpenSSH's server: SCOOP across the test hosts starts its workers over ssh, to an sshd
# distlab runs in each host's namespace (nothing is started here)
if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then
  step "OpenSSH (apt-get install openssh-server)" apt_install openssh-server openssh-client
fi
# Flink's own environment (its pins clash with the main one): built once here, so that no
# run spends its first minutes on it
step "Flink's environment (apache-flink from PyPI)" \
  .venv/bin/python -c "from distlab.engines.flink import env; env.ensure()"

if [ $want_test = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  step "Chromium (apt-get install chromium)" apt_install chromium
fi
