#!/usr/bin/env bash
# make clean: the reset of make run. Drops its PostgreSQL databases (DATABASE_URL's,
# default mailsync, and the devmongo documents in <name>_mongo) and removes .run/
# and bin/. Refuses while a make run is still running.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .run/run.pid ] && kill -0 "$(cat .run/run.pid)" 2>/dev/null; then
  echo "make clean: make run is still running (pid $(cat .run/run.pid)); stop it with Ctrl-C first" >&2
  exit 1
fi
url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/mailsync?sslmode=disable}
dbname=$(sed -E 's#^[a-z]+://[^/]*/([^?]*).*#\1#' <<<"$url")
if pg_isready -q -d "${url/\/$dbname/\/postgres}"; then
  for db in "$dbname" "${dbname}_mongo"; do
    PGOPTIONS="-c client_min_messages=warning" psql "${url/\/$dbname/\/postgres}" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
    echo "dropped database $db (if it was there)"
  done
else
  echo "make clean: PostgreSQL is not running; its databases were left alone" >&2
fi
rm -rf .run bin
echo "removed .run/ and bin/; make run starts afresh"
