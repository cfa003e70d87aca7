#!/usr/bin/env bash
# make clean: the reset of make run. Drops its PostgreSQL databases (DATABASE_URL's,
# default mailsync, and devmongo's documents in <name>_mongo) and removes .run/
# (MAILSYNC_RUN_DIR); the Makefile removes bin/. Refuses while make run is running.
set -euo pipefail
cd "$(dirname "$0")/.."
run_dir=${MAILSYNC_RUN_DIR:-.run}
if [ -f "$run_dir/run.pid" ] && kill -0 "$(cat "$run_dir/run.pid")" 2>/dev/null; then
  echo "make clean: make run is still running (pid $(cat "$run_dir/run.pid")); stop it with Ctrl-C first" >&2
  exit 1
fi
url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/mailsync?sslmode=disable}
dbname=$(sed -E 's#^[a-z]+://[^/]*/([^?]*).*#\1#' <<<"$url")
admin_url=${url/\/$dbname/\/postgres}
if pg_isready -q -d "$admin_url"; then
  for db in "$dbname" "${dbname}_mongo"; do
    PGOPTIONS="-c client_min_messages=warning" psql "$admin_url" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
    echo "dropped database $db (if it was there)"
  done
else
  echo "make clean: PostgreSQL is not running; its databases were left alone" >&2
fi
rm -rf "$run_dir"
echo "removed $run_dir/"
