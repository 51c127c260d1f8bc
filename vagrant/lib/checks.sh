# shellcheck shell=bash
# Request/assert helpers for Palisade's end-to-end checks. Source this file; every helper takes
# full URLs, so the same checks run against a pod in the Vagrant cluster, the local netns demo
# pod, or any other endpoint. Each check prints one line and is counted; `checks_summary`
# prints the totals and returns non-zero when any check failed.
#
# Knobs (environment):
#   CHECK_CURL          curl command to use (default: curl); e.g. "kubectl exec client -- curl"
#   CHECK_TIMEOUT       seconds per request (default: 10)
#   CHECK_RETRIES       extra attempts when the connection itself fails, status 000 (default: 0)
#   CHECK_PREFIX        text put before every check's description (default: none)

CHECKS_PASSED=0
CHECKS_FAILED=0
CHECKS_FAILURES=()

# Prints the HTTP status of a request (000 when no HTTP answer came back).
# Usage: http_status URL [extra curl args...]
http_status() {
    local url=$1
    shift
    local -a curl_cmd
    read -r -a curl_cmd <<<"${CHECK_CURL:-curl}"
    local attempt=0 code
    while :; do
        # -g: URLs carry literal [] and {} in attack payloads; never let curl glob them.
        code=$("${curl_cmd[@]}" -g -s -o /dev/null -w '%{http_code}' \
            --max-time "${CHECK_TIMEOUT:-10}" "$@" "$url" 2>/dev/null) || true
        code=${code:-000}
        if [ "$code" != "000" ] || [ "$attempt" -ge "${CHECK_RETRIES:-0}" ]; then
            break
        fi
        attempt=$((attempt + 1))
        sleep 1
    done
    printf '%s\n' "$code"
}

# Records one result. Usage: check_record ok|fail DESCRIPTION
# CHECK_PREFIX (e.g. "restarted pod: ") is put before the description, so a suite run several
# times tells its rounds apart in the summary.
check_record() {
    local desc="${CHECK_PREFIX:-}$2"
    if [ "$1" = ok ]; then
        CHECKS_PASSED=$((CHECKS_PASSED + 1))
        printf 'PASS  %s\n' "$desc"
    else
        CHECKS_FAILED=$((CHECKS_FAILED + 1))
        CHECKS_FAILURES+=("$desc")
        printf 'FAIL  %s\n' "$desc"
    fi
}

# Asserts the status of one request; extra args go to curl (e.g. --data, -H).
# Usage: expect_status WANT URL [curl args...]
# The description is URL plus curl args, or CHECK_NAME when set for this call:
#   CHECK_NAME="SQLi in query" expect_status 403 "$base/?id=1%27%20or%201=1--"
expect_status() {
    local want=$1 url=$2
    shift 2
    local got desc
    got=$(http_status "$url" "$@")
    desc="${CHECK_NAME:-${url}${*:+ ($*)}}"
    if [ "$got" = "$want" ]; then
        check_record ok "$want $desc"
    else
        check_record fail "$desc: want $want, got $got"
    fi
}

# Asserts that a command succeeds. Usage: expect_ok DESCRIPTION COMMAND [ARGS...]
expect_ok() {
    local desc=$1
    shift
    if "$@"; then
        check_record ok "$desc"
    else
        check_record fail "$desc: command failed: $*"
    fi
}

# Polls until a request returns WANT, then records one result.
# Usage: eventually_status WANT TIMEOUT_SECONDS URL [curl args...]
eventually_status() {
    local want=$1 timeout=$2 url=$3
    shift 3
    local deadline=$((SECONDS + timeout)) got
    while :; do
        got=$(http_status "$url" "$@")
        if [ "$got" = "$want" ] || [ "$SECONDS" -ge "$deadline" ]; then
            break
        fi
        sleep 2
    done
    local desc="${CHECK_NAME:-$url} (within ${timeout}s)"
    if [ "$got" = "$want" ]; then
        check_record ok "$want $desc"
    else
        check_record fail "$desc: want $want, got $got"
    fi
}

# Polls a command until it succeeds, then records one result named CHECK_NAME.
# Usage: CHECK_NAME="..." eventually_ok TIMEOUT_SECONDS COMMAND [ARGS...]
eventually_ok() {
    local timeout=$1
    shift
    local deadline=$((SECONDS + timeout)) desc="${CHECK_NAME:-$*} (within ${timeout}s)"
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            check_record fail "$desc: still failing: $*"
            return 0
        fi
        sleep 2
    done
    check_record ok "$desc"
}

# Benign traffic: the app must answer 200 through the engine.
check_benign() {
    local base=$1
    CHECK_NAME="benign GET /" expect_status 200 "$base/"
    CHECK_NAME="benign GET with query" expect_status 200 "$base/search?q=blue+shoes&page=2"
    CHECK_NAME="benign POST form" expect_status 200 "$base/login" \
        --data "user=alice&comment=hello+world"
}

# Attacks the OWASP CRS blocks at paranoia level 1 in blocking mode: each must get 403.
check_attacks() {
    local base=$1
    CHECK_NAME="SQLi in query" expect_status 403 "$base/?id=1%27%20or%201=1--"
    CHECK_NAME="SQLi UNION in query" expect_status 403 \
        "$base/item?id=1%20UNION%20SELECT%20username,password%20FROM%20users--"
    CHECK_NAME="SQLi in POST body" expect_status 403 "$base/login" \
        --data "user=admin%27%20OR%20%271%27=%271&pass=x"
    CHECK_NAME="XSS in query" expect_status 403 "$base/?q=%3Cscript%3Ealert(1)%3C/script%3E"
    CHECK_NAME="path traversal in query" expect_status 403 \
        "$base/download?file=../../../../etc/passwd"
    CHECK_NAME="command injection in query" expect_status 403 \
        "$base/ping?host=127.0.0.1%3Bcat%20/etc/passwd"
}

# The excluded port bypasses the engine: an attack-looking request reaches the app (200).
check_excluded_port() {
    local excluded=$1
    CHECK_NAME="excluded port: benign reaches app" expect_status 200 "$excluded/"
    CHECK_NAME="excluded port: SQLi reaches app unfiltered" expect_status 200 \
        "$excluded/?id=1%27%20or%201=1--"
}

# The standard traffic suite. Usage: check_traffic BASE_URL [EXCLUDED_PORT_URL]
check_traffic() {
    check_benign "$1"
    check_attacks "$1"
    if [ -n "${2:-}" ]; then
        check_excluded_port "$2"
    fi
}

# Prints "checks: N passed, M failed" and the failures; returns 1 when any check failed.
checks_summary() {
    local f
    for f in "${CHECKS_FAILURES[@]}"; do
        printf '  failed: %s\n' "$f"
    done
    printf 'checks: %d passed, %d failed\n' "$CHECKS_PASSED" "$CHECKS_FAILED"
    [ "$CHECKS_FAILED" -eq 0 ]
}
