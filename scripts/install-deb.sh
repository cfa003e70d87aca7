#!/usr/bin/env bash
# install-deb.sh PROGRAM PACKAGE: installs Debian's PACKAGE unless PROGRAM is
# already on the PATH. make test uses it for chromium (the dashboard's browser
# test) and prometheus (promtool, which runs the alert rules' unit tests).
# Idempotent and quiet: apt's output is shown only on failure.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: install-deb.sh PROGRAM PACKAGE" >&2; exit 2; }
program=$1 package=$2
command -v "$program" >/dev/null && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deb: need root or sudo to apt-get install $package" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deb: installing Debian's $package for $program (once)" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "$package"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deb: apt-get install $package failed" >&2
  exit 1
fi
command -v "$program" >/dev/null || { echo "install-deb: $program still missing after installing $package" >&2; exit 1; }
