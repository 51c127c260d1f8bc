#!/usr/bin/env bash
# Rule-engine cost, side by side in one run:
#   1. palisade-inspect alone (cargo bench target `eval`): CPU time per request with the
#      full CRS v4.28.0 and Debian's CRS 3.3.4 at paranoia level 1.
#   2. Debian nginx + libnginx-mod-http-modsecurity (ModSecurity v3) with Debian's CRS
#      3.3.4 at PL1 against the same nginx without ModSecurity (1 worker, wrk -t1), so
#      ModSecurity's cost per request is 1/rps(modsec) - 1/rps(plain).
# Not a test: it prints numbers. Needs nginx, libnginx-mod-http-modsecurity,
# modsecurity-crs and wrk (Debian packages). Only loopback addresses are used.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
ITERS=${ITERS:-200}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
crs4=${CRS4_DIR:-$root/../shared/crs/v4.28.0}
crs3_setup=/etc/modsecurity/crs/crs-setup.conf
crs3_rules=/usr/share/modsecurity-crs/rules

work=$(mktemp -d)
nginx_pid=""
cleanup() {
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill "$nginx_pid"
        wait "$nginx_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

echo "== palisade-inspect, CRS v4.28.0, PL1 =="
(cd "$root" && CRS_DIR="$crs4" PER_REQUEST=1 ITERS="$ITERS" cargo bench -q -p palisade-inspect --bench eval)
echo
echo "== palisade-inspect, CRS v4.28.0, PL4 =="
(cd "$root" && CRS_DIR="$crs4" PL=4 ITERS="$ITERS" cargo bench -q -p palisade-inspect --bench eval)
echo
echo "== palisade-inspect, Debian CRS 3.3.4, PL1 =="
(cd "$root" && CRS_SETUP="$crs3_setup" CRS_RULES="$crs3_rules/*.conf" PER_REQUEST=1 ITERS="$ITERS" cargo bench -q -p palisade-inspect --bench eval)
echo

for tool in nginx wrk; do
    command -v "$tool" >/dev/null || { echo "skipping nginx + ModSecurity: $tool not installed"; exit 0; }
done
module=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so
[ -f "$module" ] || { echo "skipping nginx + ModSecurity: $module missing"; exit 0; }

backend=$(free_port)
plain=$(free_port)
modsec=$(free_port)
mkdir -p "$work/logs"
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
{
    bench_modsec_base
    echo "Include $crs3_setup"
    echo "Include $crs3_rules/*.conf"
} >"$work/modsec.conf"
cat >"$work/nginx.conf" <<CONF
load_module $module;
worker_processes 1;
error_log $work/logs/error.log warn;
pid $work/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/body;
    proxy_temp_path $work/proxy;
    upstream app { server 127.0.0.1:$backend; keepalive 32; }
    server { listen 127.0.0.1:$backend; location / { return 200 "ok\n"; } }
    server {
        listen 127.0.0.1:$plain;
        location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
    server {
        listen 127.0.0.1:$modsec;
        modsecurity on;
        modsecurity_rules_file $work/modsec.conf;
        location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
CONF
nginx -p "$work" -c "$work/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$modsec/" >/dev/null 2>&1; then break; fi
    sleep 0.2
done

python3 - "$work/post.lua" <<'PY'
import json, sys
items = [{"sku": f"SKU-{i:05}", "name": f"Trail running shoe model {i}", "qty": i % 3 + 1, "price": 40 + i + 0.99} for i in range(24)]
body = json.dumps({"customer": {"id": 48213, "email": "jane.doe@example.com", "name": "Jane Doe"}, "items": items, "note": "Leave at the back door, please."}, separators=(",", ":"))
with open(sys.argv[1], "w") as f:
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
    f.write("wrk.body = " + json.dumps(body) + "\n")
PY

get_path="/catalog/shoes?color=red&size=42&sort=price_asc&page=2"
measure() { # name port path [lua]
    local out rps p50 p99
    if [ -n "${4:-}" ]; then
        out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$4" "http://127.0.0.1:$2$3")
    else
        out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$2$3")
    fi
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    printf '%-34s %10s req/s  p50 %8s  p99 %8s\n' "$1" "$rps" "$p50" "$p99"
    echo "$rps" >"$work/rps-$5"
}
echo "== nginx 1 worker, wrk -t1 -c$CONNS -d${DURATION}s =="
measure "nginx proxy, GET with args" "$plain" "$get_path" "" plain-get
measure "nginx+ModSecurity+CRS3.3.4, GET" "$modsec" "$get_path" "" modsec-get
measure "nginx proxy, 2 KB JSON POST" "$plain" "/api/orders" "$work/post.lua" plain-post
measure "nginx+ModSecurity+CRS3.3.4, POST" "$modsec" "/api/orders" "$work/post.lua" modsec-post
for k in get post; do
    awk -v a="$(cat "$work/rps-plain-$k")" -v b="$(cat "$work/rps-modsec-$k")" -v k="$k" \
        'BEGIN { printf "ModSecurity CPU per %s request: %.1f us (1/%s - 1/%s)\n", k, (1/b - 1/a) * 1e6, b, a }'
done
