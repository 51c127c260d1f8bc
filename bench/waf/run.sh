#!/usr/bin/env bash
# The WAF side by side, end to end, in one run: the OWASP CRS v4.28.0 (from ../shared,
# read in place) at paranoia level 1 in
#   - palisade-engine (explicit mode, 1 worker thread, inspection block), and
#   - Debian nginx + libnginx-mod-http-modsecurity (ModSecurity v3), 1 worker,
# both proxying to the same app (nginx `return 200`, its own worker), same client
# (wrk -t1), same requests: a GET with arguments, a 2 KB JSON POST, a SQLi GET that
# both block, a 20 KB urlencoded form with 500 arguments and a 2 MB multipart upload.
# Prints a markdown table with ratios, and CPU time per request of each WAF process
# (utime + stime from /proc/PID/stat, nginx master and workers summed) beside req/s.
# Then RSS under upload load: UPLOAD_CONNS (default 100) connections each sending the
# 2 MB upload over and over for DURATION seconds, peak VmRSS sampled every 100 ms.
#
#   bash bench/waf/run.sh        # needs nginx, libnginx-mod-http-modsecurity, wrk
#
# Env: DURATION (seconds, default 10), CONNS (default 32), UPLOAD_CONNS (default 100).
# Not a test: numbers depend on the machine and on whatever else runs on it.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
UPLOAD_CONNS=${UPLOAD_CONNS:-100}
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
# nginx workers (www-data when run as root) write request bodies under it.
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
app=$(free_port) sink=$(free_port) modsec=$(free_port) pal=$(free_port) admin=$(free_port)

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_modsec_crs "$crs" >"$work/modsec.conf"
# /upload reads the whole body before answering (nginx buffers it for proxy_pass): a
# `return` answers at once, and the engine does not forward a body the app already answered.
bench_nginx app "" "upstream sink { server 127.0.0.1:$sink; keepalive 64; }
    server { listen 127.0.0.1:$sink; client_max_body_size 20m; location / { return 200 'stored\n'; } }
    server { listen 127.0.0.1:$app; client_max_body_size 20m; client_body_buffer_size 4m;
        location / { return 200 'hello from app\n'; }
        location /upload { proxy_pass http://sink; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
bench_nginx modsec "load_module $module;" "upstream app { server 127.0.0.1:$app; keepalive 64; }
    server { listen 127.0.0.1:$modsec; modsecurity on; modsecurity_rules_file $work/modsec.conf;
        client_max_body_size 20m;
        location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
bench_engine_crs "$crs" >"$work/engine.yaml"
"$engine" --config "$work/engine.yaml" --threads 1 --listen "127.0.0.1:$pal" \
    --admin "127.0.0.1:$admin" --upstream "127.0.0.1:$app" >/dev/null 2>"$work/engine.err" &
pids+=("$!")
engine_pid=$!
modsec_master=${pids[1]}

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
python3 - "$work" <<'PY'
import sys
work = sys.argv[1]
# 20 KB urlencoded form, 500 arguments.
form = "&".join(f"field{i:03}=value-{i:03}-{'abcdefghijklmnopqrstu'[: 20]}" for i in range(500))
open(f"{work}/form.body", "w").write(form)
# 2 MB multipart upload: one text file (benign prose) and a comment field.
b = "palisadebenchboundary"
line = "Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor.\n"
content = (line * (2 * 1024 * 1024 // len(line) + 1))[: 2 * 1024 * 1024]
body = (f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\n"
        f"Content-Type: text/plain\r\n\r\n{content}\r\n--{b}\r\n"
        f"Content-Disposition: form-data; name=\"comment\"\r\n\r\nquarterly notes\r\n--{b}--\r\n")
open(f"{work}/upload.body", "w", newline="").write(body)
for name, ctype in (("form", "application/x-www-form-urlencoded"), ("upload", f"multipart/form-data; boundary={b}")):
    with open(f"{work}/{name}.lua", "w") as f:
        f.write(f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "{ctype}"\n')
        f.write(f'local fh = io.open("{work}/{name}.body", "rb")\nwrk.body = fh:read("*a")\nfh:close()\n')
PY
form_ct="application/x-www-form-urlencoded"
upload_ct="multipart/form-data; boundary=palisadebenchboundary"

# Both must agree on what they let through and what they block before being timed.
for port in $modsec $pal; do
    ok=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$get_path")
    bad=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$attack_path")
    if [ "$ok" != 200 ] || [ "$bad" != 403 ]; then
        echo "error: port $port answered $ok to the benign GET and $bad to the SQLi (want 200/403)" >&2
        exit 1
    fi
    # No `Expect: 100-continue` (curl's default for large bodies; wrk sends none, and CRS scores it).
    f=$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -H "Content-Type: $form_ct" --data-binary "@$work/form.body" "http://127.0.0.1:$port/upload/form")
    u=$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -H "Content-Type: $upload_ct" --data-binary "@$work/upload.body" "http://127.0.0.1:$port/upload/file")
    if [ "$f" != 200 ] || [ "$u" != 200 ]; then
        echo "error: port $port answered $f to the 20 KB form and $u to the 2 MB upload (want 200/200)" >&2
        exit 1
    fi
done

# CPU ticks (utime + stime) of a process and its children (nginx workers).
cpu_ticks() {
    local total=0 pid
    for pid in "$1" $(pgrep -P "$1" || true); do
        [ -r "/proc/$pid/stat" ] || continue
        total=$((total + $(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$pid/stat")))
    done
    echo "$total"
}
rss_kib() {
    local total=0 pid
    for pid in "$1" $(pgrep -P "$1" || true); do
        [ -r "/proc/$pid/status" ] || continue
        total=$((total + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")))
    done
    echo "$total"
}
hz=$(getconf CLK_TCK)

declare -A RPS P50 P99 CPU
measure() { # key port path pid [lua]
    local out before after n
    echo "==> $1: wrk -t1 -c$CONNS -d${DURATION}s" >&2
    before=$(cpu_ticks "$4")
    # --timeout: a slow request still counts (wrk's default gives up after 2 s).
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 30s --latency ${5:+-s "$5"} "http://127.0.0.1:$2$3")
    after=$(cpu_ticks "$4")
    RPS[$1]=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    P50[$1]=$(awk '$1 == "50%" {print $2}' <<<"$out")
    P99[$1]=$(awk '$1 == "99%" {print $2}' <<<"$out")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    CPU[$1]=$(python3 -c "print('%.3f' % (($after - $before) * 1000 / $hz / max($n, 1)))")
}
for side in modsec pal; do
    port=$modsec pid=$modsec_master
    [ "$side" = pal ] && port=$pal pid=$engine_pid
    measure "$side-get" "$port" "$get_path" "$pid"
    measure "$side-post" "$port" /api/orders "$pid" "$work/post.lua"
    measure "$side-attack" "$port" "$attack_path" "$pid"
    measure "$side-form" "$port" /upload/form "$pid" "$work/form.lua"
    measure "$side-upload" "$port" /upload/file "$pid" "$work/upload.lua"
done

# RSS under upload load: many connections uploading 2 MB at once.
declare -A RSS_IDLE RSS_PEAK UPS
for side in modsec pal; do
    port=$modsec pid=$modsec_master
    [ "$side" = pal ] && port=$pal pid=$engine_pid
    echo "==> $side: RSS with wrk -t1 -c$UPLOAD_CONNS -d${DURATION}s 2 MB uploads" >&2
    RSS_IDLE[$side]=$(rss_kib "$pid")
    peak=${RSS_IDLE[$side]}
    wrk -t1 -c"$UPLOAD_CONNS" -d"${DURATION}s" --timeout 30s -s "$work/upload.lua" "http://127.0.0.1:$port/upload/file" >"$work/$side-rss.out" &
    load=$!
    while kill -0 "$load" 2>/dev/null; do
        now=$(rss_kib "$pid")
        [ "$now" -gt "$peak" ] && peak=$now
        sleep 0.1
    done
    wait "$load" || true
    RSS_PEAK[$side]=$peak
    UPS[$side]=$(awk '/Requests\/sec/ {print $2}' "$work/$side-rss.out")
done

ratio() { python3 -c "print('%.1f' % ($1 / $2))"; }
echo
echo "| request (CRS v4.28.0, PL1, 1 worker, wrk -t1 -c$CONNS) | nginx + ModSecurity req/s | palisade-engine req/s | engine / ModSecurity | CPU ms/req ModSecurity | CPU ms/req engine | p50 / p99 ModSecurity | p50 / p99 engine |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for k in get post attack form upload; do
    case $k in
        get) label="GET with 4 query arguments (200)" ;;
        post) label="2 KB JSON POST (200)" ;;
        attack) label="SQLi GET (403)" ;;
        form) label="20 KB urlencoded form, 500 arguments (200)" ;;
        upload) label="2 MB multipart upload (200)" ;;
    esac
    echo "| $label | ${RPS[modsec-$k]} | ${RPS[pal-$k]} | $(ratio "${RPS[pal-$k]}" "${RPS[modsec-$k]}")x | ${CPU[modsec-$k]} | ${CPU[pal-$k]} | ${P50[modsec-$k]} / ${P99[modsec-$k]} | ${P50[pal-$k]} / ${P99[pal-$k]} |"
done
echo
echo "| 2 MB uploads, wrk -t1 -c$UPLOAD_CONNS -d${DURATION}s | req/s | RSS idle (MiB) | RSS peak (MiB) |"
echo "| --- | ---: | ---: | ---: |"
for side in modsec pal; do
    label="nginx + ModSecurity (master + worker)"
    [ "$side" = pal ] && label="palisade-engine"
    echo "| $label | ${UPS[$side]} | $((RSS_IDLE[$side] / 1024)) | $((RSS_PEAK[$side] / 1024)) |"
done
echo
# Proof the engine inspected what it forwarded (0 = no body went through uninspected).
echo "engine: $(curl -s "http://127.0.0.1:$admin/metrics" | grep -E '^palisade_uninspected_total' | tr '\n' ' ')"
