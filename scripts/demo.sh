#!/usr/bin/env bash
# The demo: builds Palisade, creates a "pod" network namespace wired by Debian's CNI
# reference plugins plus palisade-cni, shows connections being redirected, then runs the
# engine with the OWASP CRS in the pod and sends benign and attack traffic through it.
# Run as root on a fresh Debian 12 machine; installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh disable=SC1091 # sourced by path from the repo root
. scripts/deps.sh
palisade_install_deps

echo "==> cargo build"
cargo build --workspace --bins
target_dir="${CARGO_TARGET_DIR:-target}"

echo "==> demo"
"$target_dir/debug/palisade-demo"
