#!/usr/bin/env bash
# `./lab cluster [nats|redis]`: the lab as several instances sharing one event log, as a school or a MOOC would run
# it. Starts the engine (nats-server with JetStream, or redis-server), LAB_INSTANCES instances of the lab (3), and
# HAProxy round-robin in front on LAB_ADDR (127.0.0.1:3000), then stops them all on Ctrl-C. Everything lives in
# target/cluster/ (the engine's data, HAProxy's configuration, each process's log). docs/src/cluster.md explains it.
set -euo pipefail
cd "$(dirname "$0")/.."

engine=${1:-nats}
instances=${LAB_INSTANCES:-3}
listen=${LAB_ADDR:-127.0.0.1:3000}
# The engine and the instances use ports next to each other from here (3100: engine, 3101…: instances).
base_port=${LAB_CLUSTER_BASE_PORT:-3100}
dir=target/cluster
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
program() { command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || { echo "$1 is missing: ./lab setup installs it" >&2; exit 1; }; }

case "$engine" in
  # How to find the engine's process again (redis-server renames its process after its address).
  nats) engine_url="nats://127.0.0.1:$base_port"; engine_process="-sd $dir/nats" ;;
  redis) engine_url="redis://127.0.0.1:$base_port"; engine_process="redis-server 127.0.0.1:$base_port" ;;
  *) echo "usage: ./lab cluster [nats|redis]" >&2; exit 2 ;;
esac
[[ "$instances" =~ ^[1-9][0-9]?$ ]] || { echo "LAB_INSTANCES must be 1 to 99" >&2; exit 2; }

say "building the lab (release)"
cargo leptos build --release

mkdir -p "$dir"
pids=()
stop() {
  trap - INT TERM EXIT
  say "stopping the instances, HAProxy and the engine"
  # Instances brought back by hand with target/cluster/lab-N.sh are not this script's children: find them by
  # the engine they share.
  pkill -f -- "--backplane $engine_url" 2>/dev/null || true
  # An engine brought back by hand with target/cluster/engine.sh, likewise (redis-server renames its process).
  pkill -f -- "$engine_process" 2>/dev/null || true
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'stop; exit 0' INT TERM

say "starting $engine on ${engine_url#*://} (data in $dir/$engine)"
mkdir -p "$dir/$engine"
case "$engine" in
  nats)
    engine_command="$(program nats-server) -js -sd $dir/nats -a 127.0.0.1 -p $base_port"
    ;;
  redis)
    engine_command="$(program redis-server) --port $base_port --bind 127.0.0.1 --save '' --appendonly no --dir $dir/redis"
    ;;
esac
# Like the instances' scripts below: the lesson "Scaling out" stops the engine, and this brings it back.
cat >"$dir/engine.sh" <<SCRIPT
#!/usr/bin/env bash
# Written by ./lab cluster: starts $engine again on ${engine_url#*://} (run from the repository's root).
exec $engine_command >>$dir/$engine.log 2>&1
SCRIPT
chmod +x "$dir/engine.sh"
"$dir/engine.sh" &
pids+=($!)

host=${listen%:*}
port=${listen##*:}
# Students open the balancer's address, not an instance's: the join link says so.
if [ -z "${LAB_PUBLIC_URL:-}" ]; then
  if [ "$host" = 0.0.0.0 ]; then
    LAB_PUBLIC_URL="http://$(hostname -I | awk '{print $1}'):$port/"
  else
    LAB_PUBLIC_URL="http://$listen/"
  fi
fi

# Every instance must know the one teacher key, so the teacher's cookie works whichever instance answers.
teacher_key=${LAB_TEACHER_KEY:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
servers=""
grpc_servers=""
for n in $(seq 1 "$instances"); do
  instance_port=$((base_port + n))
  # One script per instance, so a teacher who killed one (the lesson "Scaling out") can bring it back.
  cat >"$dir/lab-$n.sh" <<SCRIPT
#!/usr/bin/env bash
# Written by ./lab cluster: starts instance lab-$n again (run from the repository's root).
LEPTOS_OUTPUT_NAME=transport-lab LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \\
  exec target/release/server --addr 127.0.0.1:$instance_port --backplane $engine_url \\
  --public-url $LAB_PUBLIC_URL --instance lab-$n --teacher-key $teacher_key >>$dir/lab-$n.log 2>&1
SCRIPT
  chmod +x "$dir/lab-$n.sh"
  say "starting instance lab-$n on 127.0.0.1:$instance_port"
  "$dir/lab-$n.sh" &
  pids+=($!)
  servers+="    server lab-$n 127.0.0.1:$instance_port check inter 200 fall 2 rise 1"$'\n'
  grpc_servers+="    server lab-$n 127.0.0.1:$instance_port check inter 200 fall 2 rise 1 proto h2"$'\n'
done

# Two descriptors per proxied connection, and some to spare.
maxconn=$(( ($(ulimit -n) - 100) / 2 ))
cat >"$dir/haproxy.cfg" <<CONFIG
# Written by ./lab cluster. Round robin per request; an instance that fails its health check (every 200 ms) is taken
# out; a connection it refuses is retried on another. http-no-delay: without it HAProxy holds small writes back to
# merge them, which delays a stream's events by up to 200 ms each. Native gRPC (HTTP/2, recognised by its preface)
# goes on to the instances as HTTP/2 (proto h2): the lab refuses application/grpc over HTTP/1.1.
global
    maxconn $maxconn
defaults
    mode http
    timeout connect 1s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout http-request 10s
    option redispatch
    retries 3
    option http-no-delay
frontend lab
    bind $listen
    use_backend grpc if { req.hdr(content-type) -m beg application/grpc } !{ req.hdr(content-type) -m beg application/grpc-web }
    default_backend instances
backend instances
    balance roundrobin
    option httpchk GET /api/time
$servers
backend grpc
    balance roundrobin
    option httpchk GET /api/time
$grpc_servers
CONFIG
say "starting HAProxy on http://$listen (configuration: $dir/haproxy.cfg)"
"$(program haproxy)" -f "$dir/haproxy.cfg" -db >"$dir/haproxy.log" 2>&1 &
pids+=($!)

haproxy_pid=$!

say "the lab is at http://$listen ($instances instances on $engine; logs in $dir/). Ctrl-C stops everything."
say "teacher link (keep it to yourself): ${LAB_PUBLIC_URL%/}/teacher?key=$teacher_key"
say "try: pkill -9 -f -- '--instance lab-1\$' kills one; every lane resumes on another. $dir/lab-1.sh brings it back."
say "or stop the log: pkill $engine-server; every lane says \"log unavailable\". $dir/engine.sh brings it back."
# Instances and the engine may die (that is the lesson); the cluster stops when HAProxy does, or on Ctrl-C.
while kill -0 "$haproxy_pid" 2>/dev/null; do
  sleep 1
done
say "HAProxy stopped; see $dir/haproxy.log"
