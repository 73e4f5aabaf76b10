#!/usr/bin/env bash
# The scale suite: the lab, two Node.js peers and Mosquitto under the same loads, measured by the same load tool.
# Run from the repository root as `./lab bench` (BENCH_QUICK=1 ./lab bench for a smoke run of a few minutes;
# BENCH_NO_BUILD=1 reuses the binaries already built; BENCH_ONLY=REGEX runs only the scenario lines it matches and
# leaves docs/scale alone).
# See bench/README.md for what it measures and how to read the results.
set -euo pipefail
# Labs on a shared log ask for the teacher's key to set the generator; the instances and the load tool both read it here.
export LAB_TEACHER_KEY=${LAB_TEACHER_KEY:-scale-suite-teacher-key}
cd "$(dirname "$0")/.."

# ---------------------------------------------------------------------------------------------------------------
# Scenarios, one per line:   server  transport  clients  rate  payload_bytes  [poll_interval_ms]  [qos=N]
#   server:    lab | floor | node_express_ws | socket_io | mosquitto | lab_nats | lab_redis | lab_cluster_nats | node_grpc_js
#   transport: short_poll | long_poll | sse | http_stream | web_socket | socket_io | mqtt | mqtt_tcp | grpc
#   qos=N:     MQTT only, the QoS every client subscribes with (0 or 1; 0 when not given)
# Payloads: 0 B is the bare event (~75 B of JSON); 100 B is a realistic notification or chat line (~180 B).
# MQTT: `mqtt` is MQTT 5 over the server's WebSocket, `mqtt_tcp` over its TCP listener (the lab's --mqtt-addr).
# Mosquitto has no event generator: against it the load tool publishes the same events itself (QoS 1).
# lab_nats, lab_redis: one lab instance whose log is on nats-server (JetStream) or redis-server, started for the
# run; their CPU and memory are counted with the lab's. lab_cluster_nats: three instances on one nats-server, the
# clients spread over them one each in turn (HAProxy in front would need 2 descriptors per client, past this
# machine's open-files limit at 10,000), all four processes counted.
# floor: bench/floor, the least this machine can do for the same job (one epoll loop, each event's bytes written
# once per socket, nothing else); every target in docs/src/scale.md is a ratio to its row of the same load.
# grpc: native gRPC over HTTP/2 (lab.v1.Events/Subscribe), one connection and one call per client; node_grpc_js is
# @grpc/grpc-js serving the same .proto, its gRPC on a port of its own (GRPC_ADDR) beside its HTTP knobs.
# ---------------------------------------------------------------------------------------------------------------
SCENARIOS_FULL="
# 1,000 users, 1 event/s each, bare events
lab              short_poll  1000   1   0  5000
lab              long_poll   1000   1   0
lab              sse         1000   1   0
lab              http_stream 1000   1   0
lab              web_socket  1000   1   0
floor            sse         1000   1   0
floor            web_socket  1000   1   0
node_express_ws  short_poll  1000   1   0  5000
node_express_ws  long_poll   1000   1   0
node_express_ws  sse         1000   1   0
node_express_ws  http_stream 1000   1   0
node_express_ws  web_socket  1000   1   0
socket_io        socket_io   1000   1   0
# 1,000 users, 1 event/s, 100-byte payload
lab              short_poll  1000   1 100  5000
lab              long_poll   1000   1 100
lab              sse         1000   1 100
lab              http_stream 1000   1 100
lab              web_socket  1000   1 100
node_express_ws  short_poll  1000   1 100  5000
node_express_ws  long_poll   1000   1 100
node_express_ws  sse         1000   1 100
node_express_ws  http_stream 1000   1 100
node_express_ws  web_socket  1000   1 100
socket_io        socket_io   1000   1 100
# 10,000 users, 1 event/s, 100-byte payload (short polling every 5 s is 2,000 requests/s)
lab              short_poll 10000   1 100  5000
lab              long_poll  10000   1 100
lab              sse        10000   1 100
lab              http_stream 10000   1 100
lab              web_socket 10000   1 100
floor            long_poll  10000   1 100
floor            sse        10000   1 100
floor            http_stream 10000   1 100
floor            web_socket 10000   1 100
node_express_ws  short_poll 10000   1 100  5000
node_express_ws  long_poll  10000   1 100
node_express_ws  sse        10000   1 100
node_express_ws  http_stream 10000   1 100
node_express_ws  web_socket 10000   1 100
socket_io        socket_io  10000   1 100
# throughput: 10,000 users, 10 events/s (100,000 deliveries/s), 100-byte payload
lab              sse        10000  10 100
lab              http_stream 10000  10 100
lab              web_socket 10000  10 100
floor            sse        10000  10 100
floor            web_socket 10000  10 100
node_express_ws  sse        10000  10 100
node_express_ws  http_stream 10000  10 100
node_express_ws  web_socket 10000  10 100
socket_io        socket_io  10000  10 100
# MQTT, 1 event/s, 100-byte payload: the lab's broker and Mosquitto, over WebSocket and over TCP; QoS 0, and QoS 1
# (a PUBACK back for every delivery) at 1,000
lab              mqtt        1000   1 100  qos=0
lab              mqtt_tcp    1000   1 100  qos=0
mosquitto        mqtt        1000   1 100  qos=0
mosquitto        mqtt_tcp    1000   1 100  qos=0
lab              mqtt        1000   1 100  qos=1
lab              mqtt_tcp    1000   1 100  qos=1
mosquitto        mqtt        1000   1 100  qos=1
mosquitto        mqtt_tcp    1000   1 100  qos=1
lab              mqtt       10000   1 100  qos=0
lab              mqtt_tcp   10000   1 100  qos=0
mosquitto        mqtt       10000   1 100  qos=0
mosquitto        mqtt_tcp   10000   1 100  qos=0
# Several instances on one shared log: what an engine adds beside the in-memory log (the lab rows above, same
# loads), and 10,000 clients over three instances
lab_nats         long_poll   1000   1 100
lab_redis        long_poll   1000   1 100
lab_nats         sse         1000   1 100
lab_redis        sse         1000   1 100
lab_nats         web_socket  1000   1 100
lab_redis        web_socket  1000   1 100
lab_nats         sse        10000   1 100
lab_redis        sse        10000   1 100
lab_cluster_nats sse        10000   1 100
lab_cluster_nats web_socket 10000   1 100
lab_cluster_nats short_poll 10000   1 100  5000
# Native gRPC (HTTP/2) beside the stream rows above: the lab's tonic service and Node's @grpc/grpc-js
lab              grpc        1000   1 100
node_grpc_js     grpc        1000   1 100
lab              grpc       10000   1 100
node_grpc_js     grpc       10000   1 100
"

# The smoke version: every server and transport once, 100 clients, 5 s measured.
SCENARIOS_QUICK="
lab              short_poll   100   1   0  5000
lab              long_poll    100   1   0
lab              sse          100   1   0
lab              http_stream  100   1   0
lab              web_socket   100   1   0
floor            long_poll    100   1   0
floor            sse          100   1   0
floor            web_socket   100   1   0
node_express_ws  short_poll   100   1   0  5000
node_express_ws  long_poll    100   1   0
node_express_ws  sse          100   1   0
node_express_ws  http_stream  100   1   0
node_express_ws  web_socket   100   1   0
socket_io        socket_io    100   1   0
lab              mqtt         100   1   0  qos=0
lab              mqtt_tcp     100   1   0  qos=0
mosquitto        mqtt         100   1   0  qos=0
mosquitto        mqtt_tcp     100   1   0  qos=0
lab              mqtt_tcp     100   1   0  qos=1
mosquitto        mqtt_tcp     100   1   0  qos=1
lab_nats         sse          100   1   0
lab_redis        sse          100   1   0
lab_cluster_nats sse          100   1   0
lab              grpc         100   1   0
node_grpc_js     grpc         100   1   0
"

SECONDS_MEASURED=20
SECONDS_WARMUP=5
CONNECT_RATE=2000
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  SCENARIOS=$SCENARIOS_QUICK
  SECONDS_MEASURED=5
  SECONDS_WARMUP=2
else
  SCENARIOS=$SCENARIOS_FULL
fi
# Some scenarios only (e.g. BENCH_ONLY=mqtt): their report goes next to their logs, not into docs/scale, whose
# report stays the one of a whole suite.
if [ -n "${BENCH_ONLY:-}" ]; then
  SCENARIOS=$(grep -E -- "$BENCH_ONLY" <<<"$SCENARIOS" | grep -vE '^\s*#' || true)
  [ -n "$SCENARIOS" ] || { echo "BENCH_ONLY=$BENCH_ONLY matches no scenario line" >&2; exit 1; }
fi

# Ports: this suite keeps to 3200-3299. Each server gets the first port from FIRST_PORT up that nothing listens on,
# and must be seen listening on it itself: a server that answers there but is not ours would be measured instead.
FIRST_PORT=3240
LAST_PORT=3298
SOCKPERF_PORT=3299
HOST=127.0.0.1
# A run that takes longer than this is stopped and recorded as failed.
RUN_TIMEOUT_SECONDS=600

export PATH="$HOME/.cargo/bin:$PWD/end2end/node_modules/.bin:$PATH"
LOAD=target/release/transport-load
# Debian puts the broker in /usr/sbin, which is not on every user's PATH.
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
NATS_SERVER=$(command -v nats-server || echo /usr/sbin/nats-server)
REDIS_SERVER=$(command -v redis-server || echo /usr/bin/redis-server)
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
warn() { printf '\033[1;33m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- what the bench needs, installed once ----------------------------------------------------------------------
install_bench_tools() {
  if [ ! -f bench/peers/node_modules/.package-lock.json ] ||
    [ bench/peers/package-lock.json -nt bench/peers/node_modules/.package-lock.json ]; then
    say "installing the peers' npm packages (express, ws, socket.io, @grpc/grpc-js) in bench/peers"
    (cd bench/peers && npm ci --no-audit --no-fund)
  fi
  if [ ! -x "$MOSQUITTO" ]; then
    say "installing mosquitto (the MQTT peer)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq mosquitto
  fi
  if [ ! -x "$NATS_SERVER" ] || [ ! -x "$REDIS_SERVER" ]; then
    say "installing nats-server and redis-server (the shared log's engines)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nats-server redis-server
  fi
  if ! command -v sockperf >/dev/null; then
    say "installing sockperf (the loopback floor)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq sockperf
  fi
  # The lab's own toolchain (wasm target, cargo-leptos, wasm-bindgen, wasm-opt) comes from its setup.
  if ! cargo leptos --version >/dev/null 2>&1 || ! command -v wasm-bindgen >/dev/null || ! command -v wasm-opt >/dev/null; then
    say "the lab's build tools are missing: running ./lab setup"
    ./lab setup
  fi
  if [ "${BENCH_NO_BUILD:-0}" = 1 ]; then
    warn "BENCH_NO_BUILD=1: using the binaries already in target/release, as they are"
    [ -x target/release/server ] && [ -x "$LOAD" ] && [ -x target/release/transport-floor ] || { echo "no binaries to use: build first" >&2; exit 1; }
    return
  fi
  say "building the lab (release)"
  cargo leptos build --release --split
  say "building the load tool and the floor (release)"
  cargo build --release -p transport-load -p transport-floor
}

# --- servers ---------------------------------------------------------------------------------------------------
SERVER_PID=
# The server's other processes (an engine, more instances): measured with it, stopped with it.
EXTRA_PIDS=()
# More instances to spread the clients over (lab_cluster_nats).
SPREAD_URLS=()
free_port() { # [a port not to take: the other one asked for before either is bound]
  local port
  for port in $(seq "$FIRST_PORT" "$LAST_PORT"); do
    if [ "$port" != "${1:-}" ] && [ -z "$(ss -Hltn "sport = :$port")" ]; then
      echo "$port"
      return 0
    fi
  done
  echo "no free port in $FIRST_PORT-$LAST_PORT" >&2
  return 1
}

# Whether $SERVER_PID (or $2) itself listens on $1 (another process may hold the same port on another socket).
listening_on() {
  ss -Hltnp "sport = :$1" | grep -q "pid=${2:-$SERVER_PID},"
}

# $1 distinct ports from FIRST_PORT up that nothing listens on.
free_ports() {
  local port found=()
  for port in $(seq "$FIRST_PORT" "$LAST_PORT"); do
    [ -z "$(ss -Hltn "sport = :$port")" ] && found+=("$port")
    if [ ${#found[@]} = "$1" ]; then
      echo "${found[*]}"
      return 0
    fi
  done
  echo "fewer than $1 free ports in $FIRST_PORT-$LAST_PORT" >&2
  return 1
}

# Starts nats-server (JetStream, its store in $3) or redis-server (nothing kept) on port $2 for the run; sets
# ENGINE_URL and adds its pid to EXTRA_PIDS.
start_engine() { # nats|redis port dir log
  mkdir -p "$3"
  case $1 in
    nats) "$NATS_SERVER" -js -sd "$3" -a "$HOST" -p "$2" >"$4" 2>&1 & ENGINE_URL="nats://$HOST:$2" ;;
    redis) "$REDIS_SERVER" --port "$2" --bind "$HOST" --save "" --appendonly no --dir "$3" >"$4" 2>&1 &
      ENGINE_URL="redis://$HOST:$2" ;;
  esac
  local pid=$! i
  EXTRA_PIDS+=("$pid")
  for i in $(seq 1 100); do
    listening_on "$2" "$pid" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# A lab instance on the shared log at ENGINE_URL, on port $1; sets LAB_INSTANCE_PID.
start_lab_instance() { # port log name
  target/release/server --addr "$HOST:$1" --max-connections-per-transport 20000 \
    --max-connections-per-address 40000 --max-requests-per-second 0 --paused --backplane "$ENGINE_URL" \
    --instance "$3" >"$2" 2>&1 &
  LAB_INSTANCE_PID=$!
}

# Mosquitto the way its documentation shows, nothing tuned: one TCP listener, one WebSocket listener, anyone may
# connect, nothing written to disk, no cap on connections.
mosquitto_config() { # tcp_port ws_port file
  cat >"$3" <<EOF
listener $1 $HOST
allow_anonymous true
persistence false
max_connections -1
listener $2 $HOST
protocol websockets
EOF
}

# Starts $server for $transport; sets SERVER_PID, SERVER_URL and (MQTT over TCP, Mosquitto) MQTT_ADDR, (grpc-js)
# GRPC_ADDR.
start_server() { # server transport log
  local server=$1 transport=$2 log=$3 port extra_port attempt i ports n
  local base=${log%.server.log}
  for attempt in 1 2 3; do
    port=$(free_port) || return 1
    extra_port=
    MQTT_ADDR=
    GRPC_ADDR=
    if [ "$server" = mosquitto ] || [ "$transport" = mqtt_tcp ]; then
      extra_port=$(free_port "$port") || return 1
      MQTT_ADDR="$HOST:$extra_port"
    fi
    # The second listener to wait for (MQTT's or gRPC's), if any.
    if [ "$server" = node_grpc_js ]; then
      extra_port=$(free_port "$port") || return 1
      GRPC_ADDR="$HOST:$extra_port"
    fi
    case $server in
      lab)
        # MQTT over TCP only where it is measured; the lab's WebSocket door (/api/mqtt) is always there.
        target/release/server --addr "$HOST:$port" --max-connections-per-transport 20000 \
          --max-connections-per-address 40000 --max-requests-per-second 0 --paused \
          ${extra_port:+--mqtt-addr "$MQTT_ADDR"} >"$log" 2>&1 &
        SERVER_PID=$!
        ;;
      mosquitto)
        # The WebSocket listener is SERVER_URL's port, the TCP listener MQTT_ADDR's.
        mosquitto_config "$extra_port" "$port" "$base.mosquitto.conf"
        "$MOSQUITTO" -c "$base.mosquitto.conf" >"$log" 2>&1 &
        SERVER_PID=$!
        ;;
      lab_nats | lab_redis | lab_cluster_nats)
        # The instances' ports first (the first one is SERVER_URL's), then the engine's.
        n=1
        [ "$server" = lab_cluster_nats ] && n=3
        read -r -a ports <<<"$(free_ports $((n + 1)))" || return 1
        port=${ports[0]}
        local engine=${server#lab_}
        engine=${engine#cluster_}
        if ! start_engine "$engine" "${ports[$n]}" "$base.$engine" "$base.engine.log"; then
          echo "    $engine did not start: $(tail -n 1 "$base.engine.log")" >&2
          stop_server
          continue
        fi
        for i in $(seq 2 "$n"); do
          start_lab_instance "${ports[$((i - 1))]}" "$base.lab-$i.log" "lab-$i"
          EXTRA_PIDS+=("$LAB_INSTANCE_PID")
          SPREAD_URLS+=("http://$HOST:${ports[$((i - 1))]}")
        done
        start_lab_instance "$port" "$log" lab-1
        SERVER_PID=$LAB_INSTANCE_PID
        ;;
      floor)
        target/release/transport-floor --addr "$HOST:$port" --paused >"$log" 2>&1 &
        SERVER_PID=$!
        ;;
      node_express_ws)
        NODE_ENV=production node bench/peers/node-express-ws.mjs --port "$port" --paused >"$log" 2>&1 &
        SERVER_PID=$!
        ;;
      socket_io)
        NODE_ENV=production node bench/peers/socketio.mjs --port "$port" --paused >"$log" 2>&1 &
        SERVER_PID=$!
        ;;
      node_grpc_js)
        NODE_ENV=production node bench/peers/grpc-js.mjs --port "$port" --grpc-port "$extra_port" --paused >"$log" 2>&1 &
        SERVER_PID=$!
        ;;
      *) echo "unknown server $server" >&2; return 1 ;;
    esac
    SERVER_URL="http://$HOST:$port"
    for i in $(seq 1 150); do
      # Mosquitto has no HTTP API: its own listening sockets are the sign it is up. Every instance must be up.
      if listening_on "$port" && { [ -z "$extra_port" ] || listening_on "$extra_port"; } &&
        { [ "$server" = mosquitto ] || curl -sf -o /dev/null "$SERVER_URL/api/generator"; } &&
        all_answer "${SPREAD_URLS[@]}"; then
        echo "    $server pid $SERVER_PID on $SERVER_URL${MQTT_ADDR:+ and MQTT over TCP on $MQTT_ADDR}${GRPC_ADDR:+ and gRPC on $GRPC_ADDR}${EXTRA_PIDS[*]:+ (with pids ${EXTRA_PIDS[*]})}"
        return 0
      fi
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.2
    done
    # Most likely the port was taken between the check and the bind: try the next free one.
    echo "    $server did not come up on port $port (attempt $attempt): $(tail -n 1 "$log")" >&2
    stop_server
  done
  return 1
}

# Whether every pid given is still running.
all_alive() {
  local pid
  for pid in "$@"; do
    kill -0 "$pid" 2>/dev/null || return 1
  done
}

# Whether every URL given answers /api/generator.
all_answer() {
  local url
  for url in "$@"; do
    curl -sf -o /dev/null "$url/api/generator" || return 1
  done
}

stop_server() {
  # The instances before their engine (EXTRA_PIDS lists the engine first).
  local pid pids=() i
  [ -n "$SERVER_PID" ] && pids+=("$SERVER_PID")
  for ((i = ${#EXTRA_PIDS[@]} - 1; i >= 0; i--)); do pids+=("${EXTRA_PIDS[$i]}"); done
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  SERVER_PID=
  EXTRA_PIDS=()
  SPREAD_URLS=()
}
trap 'stop_server; [ -z "${SOCKPERF_PID:-}" ] || kill "$SOCKPERF_PID" 2>/dev/null || true' EXIT

# Sockets closed by the previous run linger in TIME-WAIT (60 s on Linux) and hold ports. Loopback reuses them
# (net.ipv4.tcp_tw_reuse=2, the default), so wait only when they fill half the ephemeral range, which would leave
# a 10,000-client run short of ports.
settle() {
  local i n
  for i in $(seq 1 90); do
    n=$(ss -Htan state time-wait "( sport >= :$FIRST_PORT and sport <= :$SOCKPERF_PORT ) or ( dport >= :$FIRST_PORT and dport <= :$SOCKPERF_PORT )" 2>/dev/null | wc -l)
    [ "$n" -lt 14000 ] && return 0
    [ "$i" = 1 ] && echo "    waiting for $n TIME-WAIT sockets to drain"
    sleep 1
  done
}

# Percent of all cores busy over one second, measured while none of this suite's processes run.
cpu_busy_percent() {
  local a b
  a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat)
  sleep 1
  b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[2] - x[2];
    printf "%d\n", (t > 0 ? 100 * (y[1] - x[1]) / t : 0) }'
}

# --- the loopback floor ----------------------------------------------------------------------------------------
loopback_floor() { # output file
  local out=$1
  say "loopback floor: sockperf ping-pong over TCP on $HOST:$SOCKPERF_PORT, 5 s"
  sockperf server --tcp -i "$HOST" -p "$SOCKPERF_PORT" >"$RUN_DIR/sockperf-server.log" 2>&1 &
  SOCKPERF_PID=$!
  sleep 1
  # Saved without sockperf's colour codes, for the report to parse.
  if sockperf ping-pong --tcp -i "$HOST" -p "$SOCKPERF_PORT" -t 5 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >"$out"; then
    grep -E 'Summary: Latency|percentile 99.000' "$out" || true
  else
    warn "sockperf ping-pong failed; the report will have no loopback floor (see $out)"
  fi
  kill "$SOCKPERF_PID" 2>/dev/null || true
  wait "$SOCKPERF_PID" 2>/dev/null || true
  SOCKPERF_PID=
}

# --- the suite -------------------------------------------------------------------------------------------------
install_bench_tools
ulimit -n "$(ulimit -Hn)"
say "open files limit: $(ulimit -n)"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN_DIR=target/bench-runs/$STAMP
mkdir -p "$RUN_DIR"
FAILED="$RUN_DIR/failed-runs.txt"
BUSY="$RUN_DIR/busy-machine.txt"
: >"$FAILED"
: >"$BUSY"
{
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "node: $(node --version)  peers: $(cd bench/peers && node -p 'Object.entries(require("./package.json").dependencies).map(([k, v]) => k + "@" + v).join(" ")')"
  echo "mosquitto: $("$MOSQUITTO" -h 2>/dev/null | head -n 1)"
  echo "quick: ${BENCH_QUICK:-0}  measured: ${SECONDS_MEASURED}s  warmup: ${SECONDS_WARMUP}s  connect rate: ${CONNECT_RATE}/s"
  echo "ulimit -n: $(ulimit -n)  ephemeral ports: $(cat /proc/sys/net/ipv4/ip_local_port_range | tr '\t' -)  somaxconn: $(cat /proc/sys/net/core/somaxconn)"
} >"$RUN_DIR/environment.txt"

SOCKPERF_OUT="$RUN_DIR/sockperf.txt"
loopback_floor "$SOCKPERF_OUT"

total=$(grep -cvE '^\s*(#|$)' <<<"$SCENARIOS")
index=0
exec 3<<<"$SCENARIOS"
while read -r -u 3 server transport clients rate payload options; do
  [[ -z "${server:-}" || "$server" == \#* ]] && continue
  # What follows the payload: a bare number is short polling's interval, qos=N an MQTT run's QoS.
  interval=
  qos=
  for option in ${options:-}; do
    case $option in
      qos=*) qos=${option#qos=} ;;
      *) interval=$option ;;
    esac
  done
  case $transport in mqtt | mqtt_tcp) qos=${qos:-0} ;; esac
  index=$((index + 1))
  name=$(printf '%02d-%s-%s-%sc-r%s-p%s%s' "$index" "$server" "$transport" "$clients" "$rate" "$payload" "${qos:+-q$qos}")
  say "[$index/$total] $server $transport: $clients clients, $rate event/s, $payload B${interval:+, polling every $interval ms}${qos:+, QoS $qos}"
  settle
  # Other work on this machine takes CPU from both the server and the clients: say so next to the numbers.
  busy=$(cpu_busy_percent)
  if [ "$busy" -gt 25 ]; then
    warn "the machine is busy before this run: ${busy}% of its CPU in use by other processes"
    echo "$name: ${busy}% of the CPU busy with other work just before the run" >>"$BUSY"
  fi
  if ! start_server "$server" "$transport" "$RUN_DIR/$name.server.log"; then
    warn "FAILED to start $server (see $RUN_DIR/$name.server.log)"
    echo "$name: server did not start" >>"$FAILED"
    stop_server
    continue
  fi
  args=(run --url "$SERVER_URL" --server "$server" --transport "$transport" --clients "$clients" --rate "$rate"
    --payload-bytes "$payload" --connect-rate "$CONNECT_RATE" --warmup-seconds "$SECONDS_WARMUP"
    --seconds "$SECONDS_MEASURED" --server-pid "$SERVER_PID" --json "$RUN_DIR/$name.json")
  for pid in "${EXTRA_PIDS[@]}"; do args+=(--server-pid "$pid"); done
  for url in "${SPREAD_URLS[@]}"; do args+=(--spread-url "$url"); done
  [ -n "${interval:-}" ] && args+=(--poll-interval-ms "$interval")
  [ -n "${qos:-}" ] && args+=(--qos "$qos")
  [ -n "${MQTT_ADDR:-}" ] && args+=(--mqtt-addr "$MQTT_ADDR")
  [ -n "${GRPC_ADDR:-}" ] && args+=(--grpc-addr "$GRPC_ADDR")
  set +e
  timeout --signal=INT --kill-after=30 "$RUN_TIMEOUT_SECONDS" "$LOAD" "${args[@]}" </dev/null 2>&1 |
    tee "$RUN_DIR/$name.log"
  status=${PIPESTATUS[0]}
  set -e
  if ! all_alive "$SERVER_PID" "${EXTRA_PIDS[@]}"; then
    warn "the server died during the run"
    echo "$name: server process exited during the run (see $name.server.log)" >>"$FAILED"
    # Whatever was measured after it died was not this server: keep it out of the report.
    [ -f "$RUN_DIR/$name.json" ] && mv "$RUN_DIR/$name.json" "$RUN_DIR/$name.json.invalid"
  elif [ "$status" != 0 ] || [ ! -s "$RUN_DIR/$name.json" ]; then
    warn "FAILED: load tool exited $status (see $RUN_DIR/$name.log)"
    echo "$name: load tool exited $status$( [ -s "$RUN_DIR/$name.json" ] || echo ', no result file'): $(tail -n 1 "$RUN_DIR/$name.log")" >>"$FAILED"
  fi
  stop_server
done
exec 3<&-

# --- merge -----------------------------------------------------------------------------------------------------
REPORT_DIR=docs/scale
[ -n "${BENCH_ONLY:-}" ] && REPORT_DIR=$RUN_DIR
mkdir -p "$REPORT_DIR"
shopt -s nullglob
results=("$RUN_DIR"/*.json)
if [ ${#results[@]} = 0 ]; then
  warn "no run produced a result; nothing to merge (logs in $RUN_DIR)"
  exit 1
fi
command="./lab bench"
[ "${BENCH_NO_BUILD:-0}" = 1 ] && command="BENCH_NO_BUILD=1 $command"
[ "${BENCH_QUICK:-0}" = 1 ] && command="BENCH_QUICK=1 $command"
[ -n "${BENCH_ONLY:-}" ] && command="BENCH_ONLY='$BENCH_ONLY' $command"
sockperf_args=()
[ -s "$SOCKPERF_OUT" ] && sockperf_args=(--sockperf "$SOCKPERF_OUT")
say "merging ${#results[@]} runs"
"$LOAD" report --command "$command" "${sockperf_args[@]}" \
  --out-json "$REPORT_DIR/results.json" --out-markdown "$REPORT_DIR/results.md" "${results[@]}"
if [ -s "$FAILED" ]; then
  {
    echo
    echo "## Runs that failed"
    echo
    echo "These scenarios produced no result (kept here so a missing row is explained, not hidden):"
    echo
    sed 's/^/- /' "$FAILED"
  } >>"$REPORT_DIR/results.md"
fi
if [ -s "$BUSY" ]; then
  {
    echo
    echo "## Runs started on a busy machine"
    echo
    echo "Something besides this suite was using more than a quarter of the CPU in the second before these runs"
    echo "started; their CPU and latency figures may be worse than the servers alone would give:"
    echo
    sed 's/^/- /' "$BUSY"
  } >>"$REPORT_DIR/results.md"
fi
say "results: $REPORT_DIR/results.md and $REPORT_DIR/results.json; every run's JSON and logs in $RUN_DIR"
if [ -s "$FAILED" ]; then
  warn "$(wc -l <"$FAILED") run(s) failed (listed at the end of $REPORT_DIR/results.md and in $FAILED)"
  exit 1
fi
