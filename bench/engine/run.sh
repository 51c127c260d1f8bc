#!/usr/bin/env bash
# Side-by-side benchmark: the app direct vs through palisade-engine (inspection off) vs
# Debian's nginx proxy_pass, one worker each, same client, one run. Prints a markdown table.
#
#   bash bench/engine/run.sh            # needs: nginx, wrk, oha (cargo install oha --locked)
#
# Env: DURATION (default 10s), CONNECTIONS (32), RATE (1000 req/s for the latency run).
# Not a test: numbers depend on the machine and on whatever else runs on it.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
RATE="${RATE:-1000}"
APP_PORT=18081 NGINX_PORT=18082 ENGINE_PORT=18083 ADMIN_PORT=18084

for tool in nginx wrk oha; do
    if ! command -v "$tool" >/dev/null; then
        echo "error: $tool not found (apt-get install nginx wrk; cargo install oha --locked)" >&2
        exit 1
    fi
done

echo "==> building palisade-engine (release)" >&2
cargo build --release --quiet -p palisade-engine
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
ENGINE="$TARGET_DIR/release/palisade-engine"

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
. bench/lib.sh

# The app: nginx answering a fixed body (fast enough not to be the bottleneck).
bench_nginx app "" "server { listen 127.0.0.1:$APP_PORT; location / { return 200 'hello from app\n'; } }"
# The alternative: nginx proxy_pass with upstream keep-alive, as one would configure it.
bench_nginx proxy "" "upstream app { server 127.0.0.1:$APP_PORT; keepalive 64; }
    server { listen 127.0.0.1:$NGINX_PORT; location / { proxy_pass http://app;
        proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
# The engine: one worker thread, inspection off, no access log (nginx logs nothing either).
printf 'inspection:\n  mode: off\naccess_log: false\n' >"$work/engine.yaml"
"$ENGINE" --config "$work/engine.yaml" --threads 1 --listen "127.0.0.1:$ENGINE_PORT" \
    --admin "127.0.0.1:$ADMIN_PORT" --upstream "127.0.0.1:$APP_PORT" >/dev/null &
pids+=("$!")

for port in $APP_PORT $NGINX_PORT $ENGINE_PORT; do
    for _ in $(seq 50); do
        curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
        sleep 0.1
    done
done

throughput() { # port -> req/s
    wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "http://127.0.0.1:$1/" | awk '/Requests\/sec/ {print $2}'
}
p99_ms() { # port -> p99 latency in ms at a fixed rate
    oha --no-tui -z "$DURATION" -q "$RATE" -c 16 --output-format json "http://127.0.0.1:$1/" |
        python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["latencyPercentiles"]["p99"]*1000))'
}

declare -A RPS P99
for name in app nginx engine; do
    case $name in app) port=$APP_PORT ;; nginx) port=$NGINX_PORT ;; engine) port=$ENGINE_PORT ;; esac
    curl -fsS "http://127.0.0.1:$port/" >/dev/null
    echo "==> $name: wrk -t1 -c$CONNECTIONS -d$DURATION" >&2
    RPS[$name]="$(throughput "$port")"
    echo "==> $name: oha -q $RATE -z $DURATION" >&2
    P99[$name]="$(p99_ms "$port")"
done

ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
added() { python3 -c "print('%.3f' % ($1 - $2))"; }
echo
echo "| path | req/s (wrk -t1 -c$CONNECTIONS, GET) | vs app direct | vs nginx | p99 at $RATE req/s (ms) | p99 added vs direct (ms) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for name in app nginx engine; do
    case $name in
        app) label="app direct" ;;
        nginx) label="nginx proxy_pass (1 worker)" ;;
        engine) label="palisade-engine, inspection off (1 thread)" ;;
    esac
    echo "| $label | ${RPS[$name]} | $(ratio "${RPS[$name]}" "${RPS[app]}") | $(ratio "${RPS[$name]}" "${RPS[nginx]}") | ${P99[$name]} | $(added "${P99[$name]}" "${P99[app]}") |"
done
