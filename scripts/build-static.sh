#!/usr/bin/env bash
# Builds palisade-cni, palisade-init, palisade-validate, palisade-engine and
# palisade-injector as statically linked executables, in one cargo invocation, and copies them
# to $CARGO_TARGET_DIR/static/ (default target/static/). The CNI plugin runs in the host's
# mount namespace on every node, so it must not depend on the node's C library (EL8, Amazon
# Linux 2, Ubuntu 20.04, Talos have an older glibc or none at all); the images
# (scripts/build-images.sh) are FROM scratch, so every binary in them is static. Built once
# per CI run, used by the containerd tests, tests/tests/static_binaries.rs and the images.
#
# Target: x86_64-unknown-linux-musl (rustup's rust-std for musl + Debian's musl-tools for the
# C parts of ring and mimalloc; cmake for the engine's libz-ng-sys). When rustup cannot fetch the musl target (an offline machine), the
# fallback is the glibc target linked statically (`-C target-feature=+crt-static`): equally
# free of a dynamic loader; the binaries resolve no host names (the kubeconfig's server is the
# service IP), so glibc's NSS limitation of static binaries does not apply.
#
# Other architectures: PALISADE_STATIC_TARGET=aarch64-unknown-linux-musl with
# `rustup target add aarch64-unknown-linux-musl` and a musl cross C compiler for ring
# (CC_aarch64_unknown_linux_musl, CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER), or build
# images/cni/Dockerfile on an arm64 builder (docs/cni.md, "Static binaries").
#
# Usage: scripts/build-static.sh [--release]   (CI uses the dev profile: dependencies are
# optimised anyway, and the build is shared with the containerd test).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
cargo_profile=()
if [ "${1:-}" = "--release" ]; then
    profile=release
    cargo_profile=(--release)
fi
target_dir=${CARGO_TARGET_DIR:-target}
triple=${PALISADE_STATIC_TARGET:-x86_64-unknown-linux-musl}

if [ "$triple" = x86_64-unknown-linux-musl ] \
    && ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
    echo "==> rustup target add $triple"
    if ! timeout 300 rustup target add "$triple"; then
        echo "warning: rustup cannot fetch $triple; building glibc-static instead" >&2
        triple=x86_64-unknown-linux-gnu
    fi
fi

env_flags=()
case "$triple" in
    *-musl)
        arch=${triple%%-*}
        if [ "$arch" = x86_64 ] && ! command -v musl-gcc >/dev/null 2>&1; then
            echo "error: musl-gcc not found: install Debian's musl-tools (scripts/deps.sh)" >&2
            exit 1
        fi
        [ "$arch" = x86_64 ] && env_flags+=(CC_x86_64_unknown_linux_musl=musl-gcc)
        ;;
    *-gnu)
        var="CARGO_TARGET_$(echo "$triple" | tr 'a-z-' 'A-Z_')_RUSTFLAGS"
        env_flags+=("$var=-C target-feature=+crt-static")
        ;;
esac

echo "==> static build of palisade-cni, palisade-init, palisade-engine, palisade-injector for $triple ($profile)"
env "${env_flags[@]}" cargo build --locked --target "$triple" "${cargo_profile[@]}" \
    -p palisade-cni-plugin -p palisade-init -p palisade-engine -p palisade-injector --bins

out="$target_dir/static"
mkdir -p "$out"
for bin in palisade-cni palisade-init palisade-validate palisade-engine palisade-injector; do
    install -m 0755 "$target_dir/$triple/$profile/$bin" "$out/$bin"
done
echo "$triple" >"$out/TARGET"
file "$out"/palisade-* 2>/dev/null || true
