#!/usr/bin/env bash
# Shared by the bench/ scripts (sourced): nginx instances in a scratch dir, and the
# ModSecurity base settings that match palisade_inspect::RECOMMENDED_BASE_RULES.
# The sourcing script sets `work` (a scratch dir) and the array `pids`.

# bench_nginx NAME MAIN_CONTEXT HTTP_CONTEXT: starts a 1-worker nginx from $work/NAME.
bench_nginx() {
    : "${work:?set work to a scratch dir before calling bench_nginx}"
    mkdir -p "$work/$1"
    cat >"$work/$1/nginx.conf" <<CONF
$2
worker_processes 1;
daemon off;
pid $work/$1/nginx.pid;
error_log $work/$1/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/$1/body;
    proxy_temp_path $work/$1/proxy;
    fastcgi_temp_path $work/$1/fastcgi;
    uwsgi_temp_path $work/$1/uwsgi;
    scgi_temp_path $work/$1/scgi;
    $3
}
CONF
    nginx -c "$work/$1/nginx.conf" -p "$work/$1" &
    pids+=("$!")
}

# bench_modsec_base: ModSecurity settings equal to palisade-inspect's base rules
# (body access, JSON/XML body processors), so both engines inspect the same things.
bench_modsec_base() {
    cat <<'CONF'
SecRuleEngine On
SecRequestBodyAccess On
SecResponseBodyAccess On
SecResponseBodyMimeType text/plain text/html text/xml
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRequestBodyLimitAction Reject
SecAuditEngine Off
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
CONF
}

# bench_modsec_crs CRS_DIR: the ModSecurity rules file for the CRS in CRS_DIR, on the
# base settings above; bench_engine_crs CRS_DIR: palisade-engine's config for the same
# CRS at PL1 in block mode. Every side-by-side run gives both engines these.
bench_modsec_crs() {
    bench_modsec_base
    echo "Include $1/crs-setup.conf.example"
    echo "Include $1/rules/*.conf"
}

bench_engine_crs() {
    cat <<CONF
access_log: false
inspection:
  mode: block
  paranoia_level: 1
  rules:
    - $1/crs-setup.conf.example
    - $1/rules/*.conf
CONF
}

# bench_cpu_ticks PID: user + system CPU ticks (1/`getconf CLK_TCK` s) of PID and of
# every process below it (nginx's workers), from /proc/PID/stat fields 14 and 15.
# Read it before and after the same wrk run; the difference over the requests wrk
# completed is the proxy's CPU per request, steadier than req/s on a shared machine.
bench_cpu_ticks() {
    local pid=$1 total=0 child stat
    if [ -r "/proc/$pid/stat" ]; then
        stat=$(cat "/proc/$pid/stat")
        # The command name (field 2) may hold spaces: count fields after its ')'.
        stat=${stat##*) }
        # shellcheck disable=SC2086
        set -- $stat
        total=$((${12} + ${13}))
    fi
    # shellcheck disable=SC2013 # the file is a space-separated list of pids
    for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
        total=$((total + $(bench_cpu_ticks "$child")))
    done
    echo "$total"
}

# bench_rss_kb PID: resident memory of PID and the processes below it, in KiB.
bench_rss_kb() {
    local pid=$1 total=0 child
    total=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    # shellcheck disable=SC2013 # the file is a space-separated list of pids
    for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
        total=$((total + $(bench_rss_kb "$child")))
    done
    echo "$total"
}

# bench_wrk_cpu PID URL [LUA] -> "requests cpu_us_per_request req_per_s non2xx":
# one wrk run (wrk -t1 -c$CONNS -d${DURATION}s) against the proxy PID.
bench_wrk_cpu() {
    local pid=$1 url=$2 lua=${3:-} before after out reqs rps bad hz
    hz=$(getconf CLK_TCK)
    before=$(bench_cpu_ticks "$pid")
    # --timeout: nginx + ModSecurity takes ~0.3 s per 20 KB form, so 32 queued requests
    # wait longer than wrk's default 2 s and would not count.
    out=$(wrk -t1 -c"${CONNS:-32}" -d"${DURATION:-10}s" --timeout "${WRK_TIMEOUT:-30s}" ${lua:+-s "$lua"} "$url")
    after=$(bench_cpu_ticks "$pid")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    bad=$(awk '/Non-2xx or 3xx responses/ {print $NF}' <<<"$out")
    awk -v r="$reqs" -v t=$((after - before)) -v hz="$hz" -v rps="$rps" -v bad="${bad:-0}" \
        'BEGIN { printf "%d %.1f %s %d\n", r, (r > 0 ? t / hz * 1e6 / r : 0), rps, bad }'
}
