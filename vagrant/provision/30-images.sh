#!/usr/bin/env bash
# Builds Palisade's three images from the synced checkout with buildah (no Docker daemon) and
# loads them into containerd's k8s.io namespace, where the kubelet finds them without a registry.
set -euo pipefail
# shellcheck source=vagrant/provision/common.sh
. "${PALISADE_SRC:-/palisade}/vagrant/provision/common.sh"

: "${PALISADE_IMAGE_TAG:=e2e}"
cd "$PALISADE_SRC"
[ -f Cargo.lock ] || die "$PALISADE_SRC/Cargo.lock is missing: the images build with --locked"

for image in engine cni injector; do
    ref="localhost/palisade-$image:$PALISADE_IMAGE_TAG"
    log "building $ref from images/$image/Dockerfile"
    # --network host: RUN steps fetch crates (and CRS) without buildah setting up its own
    # CNI network next to the cluster's. --isolation chroot: no OCI runtime needed for RUN.
    # --layers + cache mounts keep rebuilds incremental.
    buildah build --layers --network host --isolation chroot --ignorefile images/.dockerignore \
        -f "images/$image/Dockerfile" -t "$ref" . \
        || die "building $ref failed (see the build output above)"
    archive="/var/tmp/palisade-$image.tar"
    buildah push --quiet "$ref" "docker-archive:$archive:$ref"
    ctr -n k8s.io images import "$archive" >/dev/null
    rm -f "$archive"
    crictl inspecti "$ref" >/dev/null || die "$ref is not visible to the kubelet after import"
done
log "images in containerd:"
crictl images | grep -E 'palisade-(engine|cni|injector)'
