#!/usr/bin/env bash
# make bench: PostgreSQL up, a devmongo (FerretDB) on a kernel-chosen port
# with its own PostgreSQL database, then cmd/bench (which creates and drops
# its own mailsync_bench_<pid> database). Extra arguments go to cmd/bench,
# e.g. scripts/bench.sh -runs 1 -duration 3s -drain-n 5000 for a quick run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-postgres.sh
command -v pgbench >/dev/null || { echo "bench: pgbench not found (apt-get install postgresql-client)" >&2; exit 1; }
: "${MAILSYNC_DEVMONGO_BIN:=$HOME/.cache/mailsync/bin/devmongo}"  # make bench sets it (and builds it)
[ -x "$MAILSYNC_DEVMONGO_BIN" ] || { echo "bench: no devmongo at $MAILSYNC_DEVMONGO_BIN; run make bench once (it builds it)" >&2; exit 1; }
pgdb="mailsync_devmongo_bench_$$"
uri_file=$(mktemp)
bin_dir=$(mktemp -d)
"$MAILSYNC_DEVMONGO_BIN" -listen 127.0.0.1:0 -uri-file "$uri_file" \
  -postgresql-url "postgres://postgres@127.0.0.1:5432/$pgdb?sslmode=disable" -log-level error >/dev/null &
dm=$!
export MAILSYNC_BENCH_DEVMONGO_PID=$dm MAILSYNC_BENCH_DEVMONGO_DB=$pgdb
cleanup() {
  kill "$dm" 2>/dev/null || true; wait "$dm" 2>/dev/null || true
  for _ in $(seq 1 30); do  # PostgreSQL may be restarting
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" postgres >/dev/null 2>&1 && break
    sleep 2
  done
  rm -rf "$uri_file" "$bin_dir"
}
trap cleanup EXIT
for _ in $(seq 1 100); do [ -s "$uri_file" ] && break; sleep 0.1; done
[ -s "$uri_file" ] || { echo "devmongo did not start" >&2; exit 1; }
export MAILSYNC_BENCH_MONGO_URL=$(cat "$uri_file")
echo "bench MongoDB (FerretDB) at $MAILSYNC_BENCH_MONGO_URL"
go build -o "$bin_dir/bench" ./cmd/bench
echo "started $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin_dir/bench" -pgbench "$(command -v pgbench)" "$@"
echo "scripts/bench.sh took ${SECONDS}s"
