#!/usr/bin/env bash
# The WAF side by side, end to end, in one run: the OWASP CRS v4.28.0 (from ../shared,
# read in place) at paranoia level 1 in
#   - palisade-engine (explicit mode, 1 worker thread, inspection block), and
#   - Debian nginx + libnginx-mod-http-modsecurity (ModSecurity v3), 1 worker,
# both proxying to the same app (nginx `return 200`, its own worker), same client
# (wrk -t1), same requests: a GET with arguments, a 2 KB JSON POST, and a SQLi GET that
# both block. Prints a markdown table with ratios.
#
#   bash bench/waf/run.sh        # needs nginx, libnginx-mod-http-modsecurity, wrk
#
# Env: DURATION (seconds, default 10), CONNS (default 32).
# Not a test: numbers depend on the machine and on whatever else runs on it.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
crs=${CRS_DIR:-$root/../shared/crs/v4.28.0}
module=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so
for tool in nginx wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found (apt-get install nginx wrk curl)" >&2; exit 1; }
done
[ -f "$module" ] || { echo "error: $module missing (apt-get install libnginx-mod-http-modsecurity)" >&2; exit 1; }
[ -d "$crs/rules" ] || { echo "error: CRS not found at $crs (../shared beside the checkout)" >&2; exit 1; }

echo "==> building palisade-engine (release)" >&2
cargo build --release --quiet -p palisade-engine
engine="${CARGO_TARGET_DIR:-target}/release/palisade-engine"

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
app=$(free_port) modsec=$(free_port) pal=$(free_port) admin=$(free_port)

# shellcheck source=bench/lib.sh
. bench/lib.sh
{
    bench_modsec_base
    echo "Include $crs/crs-setup.conf.example"
    echo "Include $crs/rules/*.conf"
} >"$work/modsec.conf"
bench_nginx app "" "server { listen 127.0.0.1:$app; location / { return 200 'hello from app\n'; } }"
bench_nginx modsec "load_module $module;" "upstream app { server 127.0.0.1:$app; keepalive 64; }
    server { listen 127.0.0.1:$modsec; modsecurity on; modsecurity_rules_file $work/modsec.conf;
        location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
cat >"$work/engine.yaml" <<CONF
access_log: false
inspection:
  mode: block
  paranoia_level: 1
  rules:
    - $crs/crs-setup.conf.example
    - $crs/rules/*.conf
CONF
"$engine" --config "$work/engine.yaml" --threads 1 --listen "127.0.0.1:$pal" \
    --admin "127.0.0.1:$admin" --upstream "127.0.0.1:$app" >/dev/null 2>"$work/engine.err" &
pids+=("$!")

for port in $app $modsec $pal; do
    for _ in $(seq 100); do
        curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
        sleep 0.2
    done
done

get_path="/catalog/shoes?color=red&size=42&sort=price_asc&page=2"
attack_path="/catalog/shoes?id=1%27%20OR%20%271%27%3D%271"
python3 - "$work/post.lua" <<'PY'
import json, sys
items = [{"sku": f"SKU-{i:05}", "name": f"Trail running shoe model {i}", "qty": i % 3 + 1, "price": 40 + i + 0.99} for i in range(24)]
body = json.dumps({"customer": {"id": 48213, "email": "jane.doe@example.com", "name": "Jane Doe"}, "items": items, "note": "Leave at the back door, please."}, separators=(",", ":"))
with open(sys.argv[1], "w") as f:
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
    f.write("wrk.body = " + json.dumps(body) + "\n")
PY

# Both must agree on what they let through and what they block before being timed.
for port in $modsec $pal; do
    ok=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$get_path")
    bad=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$attack_path")
    if [ "$ok" != 200 ] || [ "$bad" != 403 ]; then
        echo "error: port $port answered $ok to the benign GET and $bad to the SQLi (want 200/403)" >&2
        exit 1
    fi
done

declare -A RPS P50 P99
measure() { # key port path [lua]
    local out
    echo "==> $1: wrk -t1 -c$CONNS -d${DURATION}s" >&2
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency ${4:+-s "$4"} "http://127.0.0.1:$2$3")
    RPS[$1]=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    P50[$1]=$(awk '$1 == "50%" {print $2}' <<<"$out")
    P99[$1]=$(awk '$1 == "99%" {print $2}' <<<"$out")
}
for side in modsec pal; do
    port=$modsec
    [ "$side" = pal ] && port=$pal
    measure "$side-get" "$port" "$get_path"
    measure "$side-post" "$port" /api/orders "$work/post.lua"
    measure "$side-attack" "$port" "$attack_path"
done

ratio() { python3 -c "print('%.1f' % ($1 / $2))"; }
echo
echo "| request (CRS v4.28.0, PL1, 1 worker, wrk -t1 -c$CONNS) | nginx + ModSecurity req/s | palisade-engine req/s | engine / ModSecurity | p50 / p99 ModSecurity | p50 / p99 engine |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for k in get post attack; do
    case $k in
        get) label="GET with 4 query arguments (200)" ;;
        post) label="2 KB JSON POST (200)" ;;
        attack) label="SQLi GET (403)" ;;
    esac
    echo "| $label | ${RPS[modsec-$k]} | ${RPS[pal-$k]} | $(ratio "${RPS[pal-$k]}" "${RPS[modsec-$k]}")x | ${P50[modsec-$k]} / ${P99[modsec-$k]} | ${P50[pal-$k]} / ${P99[pal-$k]} |"
done
