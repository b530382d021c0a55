#!/usr/bin/env bash
# Start the local S3 server (versitygw, POSIX backend) on 127.0.0.1.
#
# usage: hack/s3/start.sh STATE_DIR [PORT]
#
#   STATE_DIR  holds data/ (buckets are its sub-directories), versitygw.log,
#              versitygw.pid and s3.env. Created if missing.
#   PORT       listen port; default $S3_PORT, else a free port is picked.
#
# Environment (all optional):
#   S3_ACCESS_KEY  root access key  (default embedserve-test)
#   S3_SECRET_KEY  root secret key  (default embedserve-test-secret-key)
#   S3_REGION      region           (default us-east-1)
#   S3_BINARY      server binary    (default: output of hack/s3/build.sh)
#   S3_START_TIMEOUT seconds to wait for the server to answer (default 30)
#
# On success prints the path of STATE_DIR/s3.env as the last stdout line.
# The env file is KEY=value lines (no quoting needed, shell-sourceable):
#   S3_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION
#   S3_PID S3_PORT S3_DATA_DIR S3_LOG S3_BINARY
# Idempotent: if the server recorded in STATE_DIR is alive and answering, it
# is reused and the env file is printed again.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 STATE_DIR [PORT]" >&2; exit 2; }
mkdir -p "$1"
state=$(cd "$1" && pwd)
want_port=${2:-${S3_PORT:-}}
access=${S3_ACCESS_KEY:-embedserve-test}
secret=${S3_SECRET_KEY:-embedserve-test-secret-key}
region=${S3_REGION:-us-east-1}
timeout=${S3_START_TIMEOUT:-30}
data="$state/data"
logf="$state/versitygw.log"
pidf="$state/versitygw.pid"
envf="$state/s3.env"

log() { printf '[s3-start %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# HTTP GET /health on 127.0.0.1:$1 using bash's /dev/tcp (no curl needed).
healthy() (
  local port=$1 line
  exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
  printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  IFS= read -r -t 2 line <&3 || exit 1
  [[ $line == HTTP/1.?\ 200* ]]
) 2>/dev/null

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Is $1 a live versitygw serving $data? (guards against PID reuse)
ours() {
  local pid=$1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF "$data"
}

# Reuse a running server if this state dir already has one.
if [ -f "$pidf" ] && [ -f "$envf" ]; then
  pid=$(cat "$pidf")
  port=$(sed -n 's/^S3_PORT=//p' "$envf")
  if ours "$pid" && healthy "$port"; then
    log "already running: pid $pid on 127.0.0.1:$port"
    echo "$envf"
    exit 0
  fi
  if ours "$pid"; then
    log "recorded server pid $pid is not answering; stopping it"
    "$here/stop.sh" "$state" >&2
  fi
  rm -f "$pidf" "$envf"
fi

exe=${S3_BINARY:-}
if [ -z "$exe" ]; then
  exe=$("$here/build.sh" | tail -n1)
fi
[ -x "$exe" ] || { echo "start.sh: server binary not executable: $exe" >&2; exit 1; }
mkdir -p "$data"

pick_port() {
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 40000 ))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  return 1
}

t_start=$(date +%s%N)
for attempt in 1 2 3 4 5; do
  if [ -n "$want_port" ]; then
    port=$want_port
    if port_in_use "$port"; then
      echo "start.sh: port $port on 127.0.0.1 is already in use" >&2; exit 1
    fi
  else
    port=$(pick_port) || { echo "start.sh: no free port found" >&2; exit 1; }
  fi
  log_mark=$( [ -f "$logf" ] && wc -l <"$logf" || echo 0 )
  log "starting $(basename "$exe") on 127.0.0.1:$port, data in $data"
  # Credentials go through the environment, not argv (keeps them out of ps).
  # setsid: the server outlives this script and its caller's process group.
  ROOT_ACCESS_KEY_ID=$access ROOT_SECRET_ACCESS_KEY=$secret \
    setsid "$exe" --port "127.0.0.1:$port" --region "$region" --health /health \
    posix "$data" </dev/null >>"$logf" 2>&1 &
  pid=$!
  echo "$pid" >"$pidf"
  deadline=$(( $(date +%s) + timeout ))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      break
    fi
    if healthy "$port"; then
      cat >"$envf.tmp" <<EOF
S3_ENDPOINT_URL=http://127.0.0.1:$port
AWS_ACCESS_KEY_ID=$access
AWS_SECRET_ACCESS_KEY=$secret
AWS_DEFAULT_REGION=$region
S3_PORT=$port
S3_PID=$pid
S3_DATA_DIR=$data
S3_LOG=$logf
S3_BINARY=$exe
EOF
      mv "$envf.tmp" "$envf"
      ms=$(( ($(date +%s%N) - t_start) / 1000000 ))
      log "up: pid $pid, http://127.0.0.1:$port (answered after ${ms}ms)"
      echo "$envf"
      exit 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "server did not answer within ${timeout}s; stopping it"
      "$here/stop.sh" "$state" >&2 || true
      tail -n 20 "$logf" >&2 || true
      exit 1
    fi
    sleep 0.1
  done
  rm -f "$pidf"
  # Exited early: lost a race for the port we picked? Retry with another.
  if [ -z "$want_port" ] && tail -n +"$(( log_mark + 1 ))" "$logf" | grep -q 'address already in use'; then
    log "port $port was taken meanwhile, retrying ($attempt)"
    continue
  fi
  log "server exited during startup; last log lines:"
  tail -n 20 "$logf" >&2 || true
  exit 1
done
echo "start.sh: could not start the server" >&2
exit 1
