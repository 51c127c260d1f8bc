#!/usr/bin/env bash
# Runs Palisade's traffic checks (benign 200; SQLi, XSS, path traversal, command injection 403;
# excluded port reaches the app) against any endpoint and prints a summary.
# Usage: vagrant/check-endpoint.sh BASE_URL [EXCLUDED_PORT_URL]
#   e.g. vagrant/check-endpoint.sh http://10.244.0.12:8080 http://10.244.0.12:8081
# Exit codes: 0 all checks passed, 1 a check failed, 64 bad usage.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ -z "$1" ]; then
    echo "usage: $0 BASE_URL [EXCLUDED_PORT_URL]" >&2
    echo "  BASE_URL           a URL served through the Palisade engine, e.g. http://10.244.0.12:8080" >&2
    echo "  EXCLUDED_PORT_URL  a URL on a port excluded from redirection (optional)" >&2
    exit 64
fi
for url in "$@"; do
    case "$url" in
        http://* | https://*) ;;
        *)
            echo "error: '$url' is not an http:// or https:// URL" >&2
            exit 64
            ;;
    esac
done

# shellcheck source=vagrant/lib/checks.sh
. "$(dirname "$0")/lib/checks.sh"

echo "==> traffic checks against ${1%/}${2:+ (excluded port: ${2%/})}"
check_traffic "${1%/}" "${2:+${2%/}}"
checks_summary
