#!/usr/bin/env bash
# Installs (or upgrades) charts/palisade-cni and charts/palisade with the images built in the VM,
# and, with PALISADE_PROFILE=multus, Multus (thick plugin) first. Safe to run again.
set -euo pipefail
# shellcheck source=vagrant/provision/common.sh
. "${PALISADE_SRC:-/palisade}/vagrant/provision/common.sh"

: "${MULTUS_VERSION:=v4.1.3}"
values=$PALISADE_SRC/vagrant/values

if [ "$PALISADE_PROFILE" = multus ] && ! kubectl -n kube-system get daemonset kube-multus-ds >/dev/null 2>&1; then
    log "installing Multus $MULTUS_VERSION (thick plugin)"
    retry 3 curl -fsSL -o /tmp/multus-thick.yml \
        "https://raw.githubusercontent.com/k8snetworkplumbingwg/multus-cni/$MULTUS_VERSION/deployments/multus-daemonset-thick.yml"
    # The manifest names a moving "snapshot" tag; pin the release's own image.
    sed -i "s|multus-cni:snapshot-thick|multus-cni:$MULTUS_VERSION-thick|g" /tmp/multus-thick.yml
    kubectl apply -f /tmp/multus-thick.yml >/dev/null
fi
if [ "$PALISADE_PROFILE" = multus ]; then
    kubectl -n kube-system rollout status daemonset/kube-multus-ds --timeout=300s
    wait_until 120 "Multus writes its conf in /etc/cni/net.d" test -f /etc/cni/net.d/00-multus.conf
fi

cni_values=(-f "$values/palisade-cni.yaml")
palisade_values=(-f "$values/palisade.yaml")
if [ "$PALISADE_PROFILE" = multus ]; then
    cni_values+=(-f "$values/palisade-cni-multus.yaml")
    palisade_values+=(-f "$values/palisade-multus.yaml")
fi

log "helm upgrade --install palisade-cni ($PALISADE_PROFILE)"
helm upgrade --install palisade-cni "$PALISADE_SRC/charts/palisade-cni" \
    --namespace "$PALISADE_NAMESPACE" --create-namespace "${cni_values[@]}" --wait --timeout 5m
log "helm upgrade --install palisade ($PALISADE_PROFILE)"
helm upgrade --install palisade "$PALISADE_SRC/charts/palisade" \
    --namespace "$PALISADE_NAMESPACE" "${palisade_values[@]}" --wait --timeout 5m
kubectl -n "$PALISADE_NAMESPACE" get pods -o wide
