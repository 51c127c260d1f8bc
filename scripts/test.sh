#!/usr/bin/env bash
# Runs every test Palisade has: formatting, lints, unit/golden tests, the namespaced
# kernel tests (root), the CRS suite, and the chart/script checks in scripts/ci.d/.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh
palisade_install_deps

export CI="${CI:-true}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if [ ! -d ../shared ]; then
    echo "error: ../shared (CRS and SecLang test data) must sit beside the checkout" >&2
    exit 1
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo build --workspace --bins (the namespaced tests run these binaries)"
cargo build --workspace --bins --locked
echo "==> scripts/build-static.sh (static cni, init, validate, engine and injector: the containerd tests and the images use them)"
bash scripts/build-static.sh
bash scripts/build-images.sh # the images (buildah, offline) that tests/tests/pod_containerd.rs runs
echo "==> cargo nextest run (CI=$CI)"
cargo nextest run --workspace --locked --no-fail-fast

for check in scripts/ci.d/*.sh; do
    [ -e "$check" ] || continue
    echo "==> $check"
    bash "$check"
done
echo "==> all tests passed"
