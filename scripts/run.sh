#!/usr/bin/env bash
# make run: everything a fresh machine needs, then the server on :8080.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-postgres.sh
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/mailsync?sslmode=disable}
dbname=$(sed -E 's#^[a-z]+://[^/]*/([^?]*).*#\1#' <<<"$DATABASE_URL")
psql "${DATABASE_URL/\/$dbname/\/postgres}" -tAc "SELECT 1 FROM pg_database WHERE datname='$dbname'" | grep -q 1 \
  || psql "${DATABASE_URL/\/$dbname/\/postgres}" -qc "CREATE DATABASE \"$dbname\""
mkdir -p .run
if [ -z "${MONGO_URL:-}" ]; then
  export MONGO_URL=mongodb://127.0.0.1:27017
  if ! (exec 3<>/dev/tcp/127.0.0.1/27017) 2>/dev/null; then
    echo "starting devmongo (FerretDB) on 127.0.0.1:27017, log in .run/devmongo.log"
    nohup "$MAILSYNC_DEVMONGO_BIN" -listen 127.0.0.1:27017 >.run/devmongo.log 2>&1 &
    for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/27017) 2>/dev/null && break; sleep 0.1; done
  fi
fi
if [ -z "${API_KEYS:-}" ] && [ "${AUTH_DISABLED:-}" != "true" ]; then
  export API_KEYS="dev:dev-token-0123456789abcdef:ingest+read+admin"
  echo "dev API key (all scopes): Authorization: Bearer dev-token-0123456789abcdef"
fi
export LOG_FORMAT=${LOG_FORMAT:-text}
bin/server migrate up
exec bin/server serve
