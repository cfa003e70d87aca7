#!/usr/bin/env bash
# make soak [DURATION=10m]: steady load against one mailsync instance (its own
# devmongo and databases, kernel-chosen ports) with an RSS, Go heap and
# goroutine readout every minute (eight readouts for soaks under 5 minutes),
# then a drain, the no-loss/no-duplicate checks and a growth-trend check.
# Usage: scripts/soak.sh [duration]   (default 2m)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-2m}
scripts/ensure-postgres.sh
: "${MAILSYNC_DEVMONGO_BIN:?run through make soak, or set MAILSYNC_DEVMONGO_BIN}"
echo "soak $duration: started $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs"
# -timeout 0: the test bounds itself (duration + 10 minutes).
MAILSYNC_SOAK=$duration go test -count=1 -v -run '^TestSoak$' -timeout 0 ./chaos
