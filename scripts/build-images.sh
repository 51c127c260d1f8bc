#!/usr/bin/env bash
# Builds Palisade's three images (images/{engine,cni,injector}/Dockerfile) offline with
# Debian's buildah: no daemon, no registry, no base image, no download. Each Dockerfile's
# offline path is used (docs/testing.md, "Images"): FROM scratch, the static binaries of
# scripts/build-static.sh (stripped copies), the CRS from a local directory, and for the CNI
# image the netfilter tools palisade-init runs, collected from this (Debian 12) host by
# images/cni/netfilter-rootfs.sh. Each image is exported as an OCI archive to
# $CARGO_TARGET_DIR/images/palisade-<name>.tar (default target/images/), named
# localhost/palisade-<name>:$PALISADE_IMAGE_TAG, which tests/tests/pod_containerd.rs imports
# into its containerd; sizes go to images/sizes.txt there.
#
# buildah runs with storage of its own in a temp dir (vfs driver: no overlay mount needed;
# chroot isolation: no OCI runtime or user namespace; no RUN step runs on this path),
# removed afterwards, so nothing is left in /var/lib/containers.
#
# Usage: scripts/build-images.sh   (after scripts/build-static.sh, same CARGO_TARGET_DIR)
#   PALISADE_CRS_DIR   an unpacked CRS release (default ../shared/crs/v4.28.0)
#   PALISADE_IMAGE_TAG the tag (default test)
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
static=$target_dir/static
out=$target_dir/images
crs=${PALISADE_CRS_DIR:-../shared/crs/v4.28.0}
tag=${PALISADE_IMAGE_TAG:-test}

if ! command -v buildah >/dev/null 2>&1; then
    echo "error: buildah not found: install Debian's buildah (scripts/deps.sh)" >&2
    exit 1
fi
for bin in palisade-engine palisade-cni palisade-init palisade-validate palisade-injector; do
    if [ ! -x "$static/$bin" ]; then
        echo "error: $static/$bin not found: run scripts/build-static.sh first (same CARGO_TARGET_DIR)" >&2
        exit 1
    fi
done
if [ ! -f "$crs/rules/REQUEST-949-BLOCKING-EVALUATION.conf" ]; then
    echo "error: $crs is not an unpacked CRS release (no rules/REQUEST-949-BLOCKING-EVALUATION.conf);" \
        "set PALISADE_CRS_DIR" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/palisade-images.XXXXXX")
cleanup() {
    # vfs layers are plain directories; buildah's own rm first, then the tree.
    buildah "${storage[@]}" rm --all >/dev/null 2>&1 || true
    rm -rf "$work"
}
storage=(--root "$work/storage" --runroot "$work/run" --storage-driver vfs)
trap cleanup EXIT

# The images carry stripped copies: symbols are for debugging on the build machine.
mkdir -p "$work/bin"
for bin in palisade-engine palisade-cni palisade-init palisade-validate palisade-injector; do
    strip -o "$work/bin/$bin" "$static/$bin"
done
sh images/cni/netfilter-rootfs.sh "$work/netfilter"

mkdir -p "$out"
: >"$out/sizes.txt"
build() { # build NAME BUILD-ARGS...
    local name=$1
    shift
    local ref="localhost/palisade-$name:$tag" archive="$out/palisade-$name.tar"
    echo "==> buildah build $ref"
    buildah "${storage[@]}" build --quiet --isolation chroot --pull-never \
        --build-arg BINARY=prebuilt --build-context "static-bin=$work/bin" "$@" \
        -f "images/$name/Dockerfile" -t "$ref" "images/$name" >/dev/null
    rm -f "$archive"
    buildah "${storage[@]}" push --quiet "$ref" "oci-archive:$archive:$ref"
    local size
    size=$(buildah "${storage[@]}" images --format '{{.Size}}' "$ref")
    printf '%s\t%s\tarchive %s bytes\n' "$ref" "$size" "$(stat -c %s "$archive")" | tee -a "$out/sizes.txt"
}
build engine --build-arg CRS=local --build-context "crs-dir=$crs"
build cni --build-arg NETFILTER=local --build-context "netfilter-root=$work/netfilter"
build injector
