#!/usr/bin/env bash
# make chaos (full) and make test (short): the chaos suite in chaos/. It
# starts its own devmongo (FerretDB) and three mailsync instances (roles all,
# api, relay) on kernel-chosen ports with its own databases, kills and
# restarts them under load, and restarts a throwaway PostgreSQL cluster of
# its own (initdb into a temporary directory, a free port; as the postgres OS
# user when run as root). The machine's cluster is never stopped or
# restarted. It loads both CPUs, so make test runs it after every other test.
# Usage: scripts/chaos.sh [short|full]
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-full}
case "$mode" in
  short) timeout=6m ;;
  full) timeout=12m ;;
  *) echo "usage: scripts/chaos.sh [short|full]" >&2; exit 2 ;;
esac
scripts/ensure-postgres.sh
: "${MAILSYNC_DEVMONGO_BIN:?run through make chaos, or set MAILSYNC_DEVMONGO_BIN}"
ls ${MAILSYNC_PG_BIN:-/usr/lib/postgresql/*/bin}/initdb >/dev/null 2>&1 || { echo "chaos: no initdb under /usr/lib/postgresql/*/bin (set MAILSYNC_PG_BIN); the suite starts its own PostgreSQL cluster" >&2; exit 1; }
start=$(date +%s)
echo "chaos $mode: started $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs"
MAILSYNC_CHAOS=$mode go test -count=1 -v -run '^TestChaos$' -timeout "$timeout" ./chaos
echo "chaos $mode: took $(( $(date +%s) - start ))s"
