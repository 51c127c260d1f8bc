#!/bin/sh
# Copies the node-independent netfilter tools palisade-init runs inside the pod (nft, and the
# iptables-nft/-legacy front ends with their extensions) with exactly the shared libraries
# they load into DEST, a root filesystem for a FROM scratch image. Runs on a Debian system
# that has the iptables and nftables packages: in images/cni/Dockerfile's `netfilter-debian`
# stage, or on the CI host (scripts/build-images.sh), which is the same Debian release.
#
# Usage: netfilter-rootfs.sh DEST
set -eu
dest=${1:?usage: netfilter-rootfs.sh DEST}
mkdir -p "$dest"

# Merged /usr (Debian 12): keep /lib, /lib64, /bin, /sbin as the same symlinks, so the
# loader path in each binary (/lib64/ld-linux-*.so.*) and ldd's /lib/... paths resolve.
for top in bin sbin lib lib64; do
    if [ -L "/$top" ]; then
        ln -sfn "$(readlink "/$top")" "$dest/$top"
        mkdir -p "$dest/$(readlink -f "/$top" | sed 's|^/||')"
    fi
done

copy() { # copy PATH...: each file, dereferenced, at the same path under $dest
    for f in "$@"; do
        mkdir -p "$dest$(dirname "$f")"
        cp -L "$f" "$dest$f"
    done
}

multiarch=$(dirname "$(readlink -f "$(command -v nft)" | xargs ldd | awk '/libc\.so/ {print $3}')")
extensions=$multiarch/xtables
if [ ! -d "$extensions" ]; then
    echo "error: $extensions not found: install Debian's iptables package" >&2
    exit 1
fi
bins="/usr/sbin/nft /usr/sbin/xtables-nft-multi /usr/sbin/xtables-legacy-multi"
for b in $bins; do
    [ -x "$b" ] || { echo "error: $b not found: install Debian's iptables and nftables" >&2; exit 1; }
done
# shellcheck disable=SC2086 # word splitting of the file list is wanted
copy $bins
mkdir -p "$dest$extensions"
cp -L "$extensions"/*.so "$dest$extensions/"

# Every library the binaries and the extensions they dlopen need, and the loader.
# shellcheck disable=SC2086
libs=$(ldd $bins "$extensions"/*.so 2>/dev/null \
    | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $2 ~ /^\(/ {print $1}' | sort -u)
# shellcheck disable=SC2086
copy $libs

# The names palisade-init runs (redirect/src: iptables-{nft,legacy}-{restore,save} and the
# ip6tables ones, nft) and the plain names, which Debian points at the nft variant.
cd "$dest/usr/sbin"
for family in iptables ip6tables; do
    for tool in "" -restore -save; do
        ln -sf xtables-nft-multi "$family-nft$tool"
        ln -sf xtables-legacy-multi "$family-legacy$tool"
        ln -sf xtables-nft-multi "$family$tool"
    done
done
# getprotobyname("tcp") for `-p tcp`, where the file exists (Debian's netbase).
if [ -f /etc/protocols ]; then
    mkdir -p "$dest/etc"
    cp /etc/protocols "$dest/etc/protocols"
fi
