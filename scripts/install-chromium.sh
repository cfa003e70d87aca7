#!/usr/bin/env bash
# Installs Debian's chromium, the headless browser of the dashboard's browser
# test (internal/handlers/dashboard_test.go), unless /usr/bin/chromium is
# already there. Idempotent and quiet: apt's output is shown only on failure.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-chromium: need root or sudo to apt-get install chromium" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-chromium: installing Debian's chromium (once)" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-chromium: apt-get failed" >&2
  exit 1
fi
[ -x /usr/bin/chromium ] || { echo "install-chromium: /usr/bin/chromium still missing after apt-get" >&2; exit 1; }
