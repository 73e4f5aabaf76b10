#!/usr/bin/env bash
# Webhook sender throughput: the lab's sender against a minimal Node.js sender (fetch + node:crypto), both POSTing
# every event to the same local receiver (a Node.js HTTP server answering 204). Prints deliveries/s, the sender's
# CPU and its CPU per delivery. Run from the repository root as `./lab bench webhooks`; see bench/README.md.
#
#   WEBHOOK_ENDPOINTS=16 WEBHOOK_RATE=50 WEBHOOK_SECONDS=10 ./lab bench webhooks
#   BENCH_NO_BUILD=1 reuses target/release/server as it is.
set -euo pipefail
cd "$(dirname "$0")/.."

ENDPOINTS=${WEBHOOK_ENDPOINTS:-16}   # the lab allows 64 endpoints in all
RATE=${WEBHOOK_RATE:-50}             # events/s; 50 is the generators' top rate
PAYLOAD=${WEBHOOK_PAYLOAD_BYTES:-0}
SECONDS_MEASURED=${WEBHOOK_SECONDS:-10}
SECONDS_WARMUP=${WEBHOOK_WARMUP:-3}
HOST=127.0.0.1
# This bench keeps to the scale suite's ports (3200-3299), from 3260 up.
FIRST_PORT=3260
LAST_PORT=3298
LAB=target/release/server
CLK_TCK=$(getconf CLK_TCK)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
[ "$ENDPOINTS" -ge 1 ] && [ "$ENDPOINTS" -le 64 ] || { echo "WEBHOOK_ENDPOINTS must be 1-64 (the lab's cap)" >&2; exit 2; }

if [ ! -f bench/peers/node_modules/.package-lock.json ] ||
  [ bench/peers/package-lock.json -nt bench/peers/node_modules/.package-lock.json ]; then
  say "installing the peers' npm packages in bench/peers"
  (cd bench/peers && npm ci --no-audit --no-fund)
fi
if [ "${BENCH_NO_BUILD:-0}" = 1 ]; then
  [ -x "$LAB" ] || { echo "no $LAB to use: build first" >&2; exit 1; }
else
  # The server binary alone: this bench loads no page, so the wasm front end is not needed.
  say "building the lab's server (release)"
  cargo build --release -p server
fi

free_port() {
  local port
  for port in $(seq "$FIRST_PORT" "$LAST_PORT"); do
    if [ -z "$(ss -Hltn "sport = :$port")" ] && [ "$port" != "${RECEIVER_PORT:-}" ]; then
      echo "$port"
      return 0
    fi
  done
  echo "no free port in $FIRST_PORT-$LAST_PORT" >&2
  return 1
}

PIDS=()
stop() { # pid
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
trap 'for pid in "${PIDS[@]}"; do stop "$pid"; done' EXIT

wait_for() { # url pid
  local i
  for i in $(seq 1 100); do
    curl -sf -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# User + system CPU seconds of a process so far, from /proc/<pid>/stat (fields 14 and 15, in clock ticks).
cpu_seconds() {
  awk -v tck="$CLK_TCK" '{ print ($14 + $15) / tck }' "/proc/$1/stat"
}
received() {
  curl -sf "http://$HOST:$RECEIVER_PORT/count" | sed 's/.*"count":\([0-9]*\).*/\1/'
}

RUN_DIR=target/bench-runs/webhooks-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RUN_DIR"
RECEIVER_PORT=$(free_port)
node bench/peers/webhook-receiver.mjs --port "$RECEIVER_PORT" >"$RUN_DIR/receiver.log" 2>&1 &
RECEIVER_PID=$!
PIDS+=("$RECEIVER_PID")
wait_for "http://$HOST:$RECEIVER_PORT/count" "$RECEIVER_PID" || { echo "the receiver did not start" >&2; exit 1; }
TARGET="http://$HOST:$RECEIVER_PORT/hook"

# Measures the sender $1 (pid) over the window; appends "name delivered/s cpu% µs/delivery" to $RESULTS.
RESULTS="$RUN_DIR/results.txt"
: >"$RESULTS"
measure() { # name pid
  local name=$1 pid=$2 c0 c1 cpu0 cpu1 t0 t1
  sleep "$SECONDS_WARMUP"
  c0=$(received); cpu0=$(cpu_seconds "$pid"); t0=$(date +%s.%N)
  sleep "$SECONDS_MEASURED"
  c1=$(received); cpu1=$(cpu_seconds "$pid"); t1=$(date +%s.%N)
  awk -v n="$name" -v c0="$c0" -v c1="$c1" -v a="$cpu0" -v b="$cpu1" -v t0="$t0" -v t1="$t1" 'BEGIN {
    d = c1 - c0; t = t1 - t0; cpu = b - a
    printf "%s %.0f %.1f %.1f\n", n, d / t, 100 * cpu / t, (d > 0 ? 1e6 * cpu / d : 0) }' >>"$RESULTS"
}

busy() { awk '{ print $1 }' /proc/loadavg; }
say "machine: $(nproc) cores, load average $(busy) before the runs"

# --- the lab ----------------------------------------------------------------------------------------------------
LAB_PORT=$(free_port)
say "lab: $ENDPOINTS endpoints x $RATE events/s to $TARGET"
"$LAB" --addr "$HOST:$LAB_PORT" --paused --max-requests-per-second 0 --webhook-idle-seconds 86400 \
  --payload-bytes "$PAYLOAD" >"$RUN_DIR/lab.log" 2>&1 &
LAB_PID=$!
PIDS+=("$LAB_PID")
wait_for "http://$HOST:$LAB_PORT/api/generator" "$LAB_PID" || { echo "the lab did not start (see $RUN_DIR/lab.log)" >&2; exit 1; }
for i in $(seq 1 "$ENDPOINTS"); do
  # A client id each: the lab allows 4 endpoints per client.
  curl -sf -o /dev/null -X POST "http://$HOST:$LAB_PORT/api/webhooks/endpoints" -H 'content-type: application/json' \
    -d "{\"url\":\"$TARGET\",\"client\":\"bench-$i\"}" || { echo "registering endpoint $i failed" >&2; exit 1; }
done
curl -sf -o /dev/null -X POST "http://$HOST:$LAB_PORT/api/generator" -H 'content-type: application/json' \
  -d "{\"rate_per_second\":$RATE,\"paused\":false}"
measure lab "$LAB_PID"
curl -sf -o /dev/null -X POST "http://$HOST:$LAB_PORT/api/generator" -H 'content-type: application/json' -d '{"paused":true}'
stop "$LAB_PID"
sleep 1

# --- Node.js: fetch + node:crypto ------------------------------------------------------------------------------
say "node (fetch): $ENDPOINTS endpoints x $RATE events/s to $TARGET, load average $(busy)"
NODE_ENV=production node bench/peers/webhook-sender.mjs --target "$TARGET" --endpoints "$ENDPOINTS" --rate "$RATE" \
  --payload-bytes "$PAYLOAD" >"$RUN_DIR/node-sender.log" 2>&1 &
NODE_PID=$!
PIDS+=("$NODE_PID")
measure node_fetch "$NODE_PID"
stop "$NODE_PID"

# --- report -----------------------------------------------------------------------------------------------------
expected=$((ENDPOINTS * RATE))
{
  echo "Webhook sender throughput: $ENDPOINTS endpoints x $RATE events/s = $expected deliveries/s offered, ${PAYLOAD} B filler,"
  echo "${SECONDS_MEASURED} s measured after ${SECONDS_WARMUP} s; $(nproc) cores, load average $(busy) at the end."
  echo
  echo "| sender | deliveries/s | sender CPU | CPU per delivery |"
  echo "|---|--:|--:|--:|"
  awk '{ printf "| %s | %s | %s %% | %s µs |\n", ($1 == "lab" ? "Transport Lab (fresh connection per attempt)" : "Node.js fetch (pooled keep-alive)"), $2, $3, $4 }' "$RESULTS"
  awk 'NR == 1 { l = $4 } NR == 2 { n = $4 } END { if (l > 0) printf "\nCPU per delivery, Node.js / lab: %.2fx\n", n / l }' "$RESULTS"
  echo
  tail -n 1 "$RUN_DIR/node-sender.log"
} | tee "$RUN_DIR/report.md"
say "logs in $RUN_DIR"
