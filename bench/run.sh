#!/usr/bin/env bash
# SQ load benchmarks next to Redis, on this machine, in one run.
# Usage: bench/run.sh [--quick]   (writes docs/BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-benchmark >/dev/null || need+=(redis-tools)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} (Debian packages)"
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release -p sq
exec python3 bench/run.py "$@"
