#!/usr/bin/env bash
# Tests the request/assert logic of vagrant/lib/checks.sh and vagrant/check-endpoint.sh (pass and
# fail paths) against throwaway local HTTP servers (vagrant/test/fake_waf.py). This proves the
# checks themselves, not Palisade: the e2e run in the VM points the same checks at real pods.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vagrant_dir=$(dirname "$here")
work=$(mktemp -d)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

failures=0
ok() { printf 'selftest ok:   %s\n' "$1"; }
bad() {
    printf 'selftest FAIL: %s\n' "$1" >&2
    failures=$((failures + 1))
}

# Starts fake_waf.py in MODE and stores its base URL in the variable named VAR (no subshell,
# so the cleanup trap knows every pid).
start_server() {
    local mode=$1 out="$work/$1.port" tries=0
    python3 "$here/fake_waf.py" "$mode" --lifetime 300 >"$out" &
    pids+=($!)
    # Up to 30 s: on a loaded 2-core CI machine a Python start can take several seconds.
    while [ "$tries" -lt 300 ]; do
        if [ -s "$out" ]; then
            printf -v "$2" 'http://127.0.0.1:%s' "$(head -n1 "$out")"
            return 0
        fi
        tries=$((tries + 1))
        sleep 0.1
    done
    echo "error: fake_waf.py $mode did not start (python3 missing or broken?)" >&2
    return 1
}

# A port nothing listens on: bind an ephemeral port, then release it.
closed_url() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print("http://127.0.0.1:%d" % s.getsockname()[1])'
}

# Runs check-endpoint.sh; asserts its exit code and the summary line it prints.
# Usage: expect_run NAME WANT_RC WANT_SUMMARY_REGEX ARGS...
expect_run() {
    local name=$1 want_rc=$2 want_summary=$3 rc=0
    shift 3
    bash "$vagrant_dir/check-endpoint.sh" "$@" >"$work/out" 2>&1 || rc=$?
    if [ "$rc" -ne "$want_rc" ]; then
        bad "$name: exit code $rc, want $want_rc"
        sed 's/^/    | /' "$work/out" >&2
    elif ! grep -Eq "$want_summary" "$work/out"; then
        bad "$name: output lacks /$want_summary/"
        sed 's/^/    | /' "$work/out" >&2
    else
        ok "$name (exit $rc)"
    fi
}

waf='' open='' deny=''
start_server waf waf
start_server open open
start_server deny deny
closed=$(closed_url)

# Pass path: a WAF-like endpoint and an unfiltered excluded port.
expect_run "protected endpoint passes every check" 0 '^checks: 11 passed, 0 failed$' "$waf" "$open"
expect_run "trailing slash on base URL is accepted" 0 '^checks: 9 passed, 0 failed$' "$waf/"

# Fail paths: every wrong answer must be caught and counted.
expect_run "unprotected endpoint fails the 6 attack checks" 1 '^checks: 3 passed, 6 failed$' "$open"
if grep -q '^FAIL  SQLi in query: want 403, got 200$' "$work/out"; then
    ok "failure line names the check, the wanted and the actual status"
else
    bad "failure line for SQLi is missing or malformed"
fi
expect_run "endpoint that blocks everything fails the 3 benign checks" 1 \
    '^checks: 6 passed, 3 failed$' "$deny"
expect_run "excluded port that filters fails the excluded-port SQLi check" 1 \
    '^checks: 10 passed, 1 failed$' "$waf" "$waf"
expect_run "unreachable endpoint fails every check" 1 '^checks: 0 passed, 9 failed$' "$closed"
if grep -q 'got 000$' "$work/out"; then
    ok "connection failure is reported as status 000"
else
    bad "connection failure not reported as 000"
fi
expect_run "missing BASE_URL is a usage error" 64 '^usage:'
expect_run "non-URL argument is a usage error" 64 "is not an http:// or https:// URL" "10.0.0.1:8080"

# The library's functions, called directly as e2e.sh does.
if (
    # shellcheck source=vagrant/lib/checks.sh
    . "$vagrant_dir/lib/checks.sh"
    expect_status 200 "$waf/"
    expect_status 403 "$waf/?id=1%27%20or%201=1--"
    expect_status 200 "$waf/?id=1%27%20or%201=1--" # wrong on purpose: must count as failed
    expect_ok "true succeeds" true
    expect_ok "false fails" false # wrong on purpose
    CHECK_NAME="eventually 403" eventually_status 403 5 "$waf/?q=%3Cscript%3E"
    CHECK_RETRIES=1 expect_status 000 "$closed/"
    CHECK_NAME="eventually true" eventually_ok 5 true
    CHECK_NAME="eventually false" eventually_ok 1 false # wrong on purpose
    CHECK_PREFIX="round 2: " expect_ok "prefixed" true
    [ "${CHECKS_FAILURES[0]}" = "$waf/?id=1%27%20or%201=1--: want 200, got 403" ] \
        || { echo "first failure recorded as '${CHECKS_FAILURES[0]}'" >&2; exit 1; }
    if checks_summary >/dev/null; then
        echo "checks_summary returned success with failures" >&2
        exit 1
    fi
    [ "$CHECKS_PASSED" -eq 7 ] && [ "$CHECKS_FAILED" -eq 3 ] \
        || { echo "counted $CHECKS_PASSED passed, $CHECKS_FAILED failed; want 7 and 3" >&2; exit 1; }
) >"$work/lib.out" 2>&1 && grep -q '^PASS  round 2: prefixed$' "$work/lib.out"; then
    ok "library counts passes and failures, prefixes descriptions, checks_summary fails on failures"
else
    bad "library functions"
    sed 's/^/    | /' "$work/lib.out" >&2
fi

if [ "$failures" -ne 0 ]; then
    echo "error: $failures checks-library self-test(s) failed" >&2
    exit 1
fi
echo "checks-library self-test: all cases passed"
