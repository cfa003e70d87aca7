#!/usr/bin/env bash
# make run: everything a fresh machine needs, then the server on 127.0.0.1:8080
# (HTTP_ADDR picks another address). It checks the ports before starting
# anything, prints the URLs to open and the dev key once the server is ready,
# and whatever it started stops with the server (Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."

# The dev server's admin key is printed and well known, so it listens on the
# loopback interface unless the user chooses otherwise (HTTP_ADDR=:8080).
export HTTP_ADDR=${HTTP_ADDR:-127.0.0.1:8080}
server=${MAILSYNC_SERVER_BIN:-bin/server}
devmongo_addr=${DEVMONGO_ADDR:-127.0.0.1:27017}
run_dir=${MAILSYNC_RUN_DIR:-.run} # pid file and devmongo log

port=${HTTP_ADDR##*:}
host=${HTTP_ADDR%:*}
host=${host#[}
host=${host%]}
case "$host" in "" | 0.0.0.0 | "::") probe=127.0.0.1 all_interfaces=1 ;; *) probe=$host all_interfaces= ;; esac
base="http://$probe:$port"

listening() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

if listening "$probe" "$port"; then
  echo "make run: $probe:$port is already in use (an earlier make run, or another program)." >&2
  echo "  Stop it, or pick another address:  HTTP_ADDR=127.0.0.1:18080 make run" >&2
  exit 1
fi

scripts/ensure-postgres.sh
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/mailsync?sslmode=disable}
dbname=$(sed -E 's#^[a-z]+://[^/]*/([^?]*).*#\1#' <<<"$DATABASE_URL")
admin_url=${DATABASE_URL/\/$dbname/\/postgres}
psql "$admin_url" -tAc "SELECT 1 FROM pg_database WHERE datname='$dbname'" | grep -q 1 \
  || psql "$admin_url" -qc "CREATE DATABASE \"$dbname\""
mkdir -p "$run_dir"
echo $$ >"$run_dir/run.pid"

# Children stop with this script: the server is signalled by the trap below,
# devmongo (-exit-with-parent) exits once this script is gone.
server_pid=
stop() {
  trap - INT TERM HUP
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  exit 130
}
trap stop INT TERM HUP
trap 'rm -f "$run_dir/run.pid"' EXIT

if [ -z "${MONGO_URL:-}" ]; then
  export MONGO_URL="mongodb://$devmongo_addr"
  if listening "${devmongo_addr%:*}" "${devmongo_addr##*:}"; then
    echo "MongoDB: using the server already listening on $devmongo_addr (an earlier make run's devmongo," \
      "or your own MongoDB); set MONGO_URL to use another one"
  else
    mongo_pg=${DATABASE_URL/\/$dbname/\/${dbname}_mongo}
    echo "MongoDB: starting devmongo (FerretDB, documents in PostgreSQL database ${dbname}_mongo)" \
      "on $devmongo_addr, log in $run_dir/devmongo.log"
    "$MAILSYNC_DEVMONGO_BIN" -listen "$devmongo_addr" -postgresql-url "$mongo_pg" -exit-with-parent \
      >"$run_dir/devmongo.log" 2>&1 &
    devmongo_pid=$!
    for _ in $(seq 1 150); do
      listening "${devmongo_addr%:*}" "${devmongo_addr##*:}" && break
      kill -0 "$devmongo_pid" 2>/dev/null || { cat "$run_dir/devmongo.log" >&2; echo "devmongo did not start" >&2; exit 1; }
      sleep 0.1
    done
  fi
else
  echo "MongoDB: $(sed -E 's#//[^/@]*@#//#' <<<"$MONGO_URL") (MONGO_URL)"
fi

key_line="the keys in API_KEYS"
if [ -z "${API_KEYS:-}" ] && [ "${AUTH_DISABLED:-}" != "true" ]; then
  export API_KEYS="dev:dev-token-0123456789abcdef:ingest+read+admin"
  key_line="Authorization: Bearer dev-token-0123456789abcdef   (dev key, all scopes)"
elif [ "${AUTH_DISABLED:-}" = "true" ]; then
  key_line="none needed (AUTH_DISABLED=true)"
fi
export LOG_FORMAT=${LOG_FORMAT:-text}
"$server" migrate up

"$server" serve &
server_pid=$!
ready=
for _ in $(seq 1 300); do
  kill -0 "$server_pid" 2>/dev/null || break
  if curl -fsS -o /dev/null "$base/readyz" 2>/dev/null; then ready=1; break; fi
  sleep 0.1
done
if [ -n "$ready" ]; then
  cat <<EOF

mailsync is ready on $base   (Ctrl-C stops it and what make run started)
  API docs    $base/docs
  dashboard   $base/dashboard   (it asks for the key below)
  readiness   $base/readyz
  API key     $key_line

EOF
  if [ -n "$all_interfaces" ]; then
    echo "warning: HTTP_ADDR=$HTTP_ADDR listens on every interface; anyone who can reach this machine can use the key above"
  fi
elif kill -0 "$server_pid" 2>/dev/null; then
  echo "mailsync is running but not ready after 30 s: curl $base/readyz says why"
fi
status=0
wait "$server_pid" || status=$?
server_pid=
exit "$status"
