#!/usr/bin/env bash
# Stop the S3 server that hack/s3/start.sh started for STATE_DIR.
#
# usage: hack/s3/stop.sh STATE_DIR
#
# Stops only the PID recorded in STATE_DIR/versitygw.pid, and only if that
# process is still a server for STATE_DIR/data (PID-reuse guard); never by
# process name. SIGTERM, then SIGKILL after S3_STOP_TIMEOUT seconds (default
# 10). Idempotent: nothing recorded or already gone is success. The data dir
# and log are kept; remove STATE_DIR yourself if you want them gone.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
[ -d "$1" ] || exit 0
state=$(cd "$1" && pwd)
data="$state/data"
pidf="$state/versitygw.pid"
envf="$state/s3.env"
timeout=${S3_STOP_TIMEOUT:-10}

log() { printf '[s3-stop %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

ours() {
  [ -r "/proc/$1/cmdline" ] && tr '\0' '\n' <"/proc/$1/cmdline" | grep -qxF "$data"
}

if [ ! -f "$pidf" ]; then
  rm -f "$envf"
  exit 0
fi
pid=$(cat "$pidf")
if [[ ! $pid =~ ^[0-9]+$ ]] || ! ours "$pid"; then
  log "recorded pid ${pid:-?} is not running a server for $data; nothing to stop"
  rm -f "$pidf" "$envf"
  exit 0
fi

kill -TERM "$pid" 2>/dev/null || true
deadline=$(( $(date +%s) + timeout ))
while ours "$pid"; do
  # A zombie (exited, not yet reaped by its parent) counts as stopped.
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "pid $pid did not exit after SIGTERM in ${timeout}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
    break
  fi
  sleep 0.1
done
rm -f "$pidf" "$envf"
log "stopped pid $pid"
