#!/usr/bin/env bash
# Proves the e2e traffic checks expect what the OWASP CRS really does: runs vagrant/check-endpoint.sh
# against nginx + ModSecurity v3 loading the CRS v4.28.0 from ../shared (paranoia level 1,
# blocking, anomaly threshold 5: the engine's defaults) in front of a plain app server, with the
# app's own port as the "excluded port". Every benign request must pass and every attack payload
# must be blocked by the real rule set; nothing of Palisade is involved.
# Needs nginx, libnginx-mod-http-modsecurity and ../shared; under CI=true a missing one fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
crs="$root/../shared/crs/v4.28.0"
module=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so

missing() {
    if [ "${CI:-}" = true ]; then
        echo "error: crs-payloads: $1" >&2
        exit 1
    fi
    echo "skip: crs-payloads: $1 (CI=true makes this fatal)"
    exit 0
}
[ -f "$crs/crs-setup.conf.example" ] || missing "CRS not found at $crs (../shared must sit beside the checkout)"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing "nginx not installed (apt-get install nginx)"
[ -f "$module" ] || missing "$module not found (apt-get install libnginx-mod-http-modsecurity)"
nginx_bin=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)

work=$(mktemp -d)
nginx_pid=""
cleanup() {
    if [ -n "$nginx_pid" ]; then
        kill "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
# nginx workers drop to an unprivileged user when started as root: they must reach these.
mkdir -p "$work/tmp" "$work/data"
chmod 0755 "$work"
chmod 0777 "$work/tmp" "$work/data"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
waf_port=$(free_port)
app_port=$(free_port)

cat >"$work/modsec.conf" <<EOF
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 1048576
SecRequestBodyNoFilesLimit 131072
SecResponseBodyAccess Off
SecTmpDir $work/tmp
SecDataDir $work/data
SecAuditEngine Off
Include $crs/crs-setup.conf.example
Include $crs/rules/*.conf
EOF
cat >"$work/nginx.conf" <<EOF
load_module $module;
pid $work/nginx.pid;
error_log $work/error.log info;  # info: ModSecurity logs each matched rule id
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $work/tmp/body;
    proxy_temp_path $work/tmp/proxy;
    fastcgi_temp_path $work/tmp/fastcgi;
    uwsgi_temp_path $work/tmp/uwsgi;
    scgi_temp_path $work/tmp/scgi;
    # The "app": answers 200 to everything. Reached directly, it is the excluded port.
    server {
        listen 127.0.0.1:$app_port;
        location / { return 200 "app\n"; }
    }
    # The WAF in front of it.
    server {
        listen 127.0.0.1:$waf_port;
        modsecurity on;
        modsecurity_rules_file $work/modsec.conf;
        location / { proxy_pass http://127.0.0.1:$app_port; }
    }
}
EOF

"$nginx_bin" -e "$work/error.log" -p "$work" -c "$work/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 1 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$waf_port/" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$nginx_pid" 2>/dev/null; then
        sed 's/^/    | /' "$work/error.log" >&2 || true
        echo "error: crs-payloads: nginx with ModSecurity + CRS did not start" >&2
        exit 1
    fi
    sleep 0.1
done

echo "==> check-endpoint.sh against nginx + ModSecurity + CRS v4.28.0 (PL1, blocking)"
rc=0
bash "$root/vagrant/check-endpoint.sh" "http://127.0.0.1:$waf_port" "http://127.0.0.1:$app_port" || rc=$?
if [ "$rc" -ne 0 ]; then
    echo "error: crs-payloads: the real CRS disagrees with the e2e expectations (see FAIL lines)" >&2
    grep -o 'id "[0-9]*"' "$work/error.log" | sort | uniq -c | sed 's/^/    | /' >&2 || true
    exit 1
fi
