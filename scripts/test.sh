#!/usr/bin/env bash
# make test: PostgreSQL up, one devmongo on a kernel-chosen port shared by the
# test processes (each test uses its own databases), then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
phase() { echo "make test [$(((SECONDS - start) / 60))m$(((SECONDS - start) % 60))s] $*"; }
phase "about 9 minutes on 2 CPUs in all: setup, then 1/4 go test -race ./..., 2/4 tools/devmongo, 3/4 the alert rules, 4/4 a short chaos run"
phase "setup: PostgreSQL, headless Chromium, promtool, a devmongo for the tests"
scripts/ensure-postgres.sh
# Headless Chromium for the dashboard's browser test (installed once; skipped with MAILSYNC_SKIP_BROWSER=1).
[ "${MAILSYNC_SKIP_BROWSER:-}" = 1 ] || scripts/install-deb.sh chromium chromium
# promtool runs the alert rules' unit tests (deploy/prometheus/alerts_test.yml).
scripts/install-deb.sh promtool prometheus
pgdb="mailsync_devmongo_test_$$"
uri_file=$(mktemp)
# Its log goes to a file: FerretDB logs as errors the duplicate keys the
# relay's tests provoke on purpose. It drops its database when it exits.
dm_log=$(mktemp)
"$MAILSYNC_DEVMONGO_BIN" -listen 127.0.0.1:0 -uri-file "$uri_file" -drop-database-on-exit \
  -postgresql-url "postgres://postgres@127.0.0.1:5432/$pgdb?sslmode=disable" -log-level error >/dev/null 2>"$dm_log" &
dm=$!
cleanup() {
  kill "$dm" 2>/dev/null || true; wait "$dm" 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" postgres >/dev/null 2>&1 || true
  rm -f "$uri_file" "$dm_log"
}
trap cleanup EXIT
for _ in $(seq 1 100); do [ -s "$uri_file" ] && break; sleep 0.1; done
[ -s "$uri_file" ] || { echo "devmongo did not start:" >&2; tail -20 "$dm_log" >&2; exit 1; }
export MAILSYNC_TEST_MONGO_URL=$(cat "$uri_file")
echo "test MongoDB (FerretDB) at $MAILSYNC_TEST_MONGO_URL"
# The dashboard browser test's screenshot outlives the run; its path is printed after it.
export MAILSYNC_ARTIFACTS=${MAILSYNC_ARTIFACTS:-$PWD/.run/artifacts}
rm -f "$MAILSYNC_ARTIFACTS/dashboard.png"
phase "1/4: go test -race ./... (compiling every package with the race detector takes a few minutes before the first result appears)"
status=0
go test -race -count=1 -timeout 20m ./... || status=$?
[ ! -f "$MAILSYNC_ARTIFACTS/dashboard.png" ] || echo "dashboard screenshot: $MAILSYNC_ARTIFACTS/dashboard.png"
[ "$status" -eq 0 ] || exit "$status"
phase "2/4: tools/devmongo: go vet and go test"
(cd tools/devmongo && go vet ./... && go test -count=1 ./...)
phase "3/4: the alert rules: promtool check rules and test rules"
promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/alerts_test.yml
phase "4/4: the short chaos run (about 1.5 minutes)"
# Last, alone (it loads both CPUs): the short chaos run, in a throwaway
# PostgreSQL cluster of its own (see scripts/chaos.sh).
scripts/chaos.sh short
phase "done: every test passed"
