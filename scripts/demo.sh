#!/usr/bin/env bash
# The demo: builds Palisade, creates a "pod" network namespace wired by Debian's CNI
# reference plugins plus palisade-cni, and shows a connection being redirected.
# Run as root on a fresh Debian 12 machine; installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh disable=SC1091 # sourced by path from the repo root
. scripts/deps.sh
palisade_install_deps

echo "==> cargo build"
cargo build -p palisade-cni-plugin -p palisade-init -p palisade-tests --bins
target_dir="${CARGO_TARGET_DIR:-target}"

echo "==> demo"
"$target_dir/debug/palisade-demo"
