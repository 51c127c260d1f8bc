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
