#!/usr/bin/env bash
# Deploys the sample app (vagrant/manifests/sample-app.yaml) into the injected namespace and
# restarts it, so its pod is created after the current Palisade install.
set -euo pipefail
# shellcheck source=vagrant/provision/common.sh
. "${PALISADE_SRC:-/palisade}/vagrant/provision/common.sh"

log "deploying the sample app"
kubectl apply -f "$PALISADE_SRC/vagrant/manifests/sample-app.yaml" >/dev/null
kubectl -n palisade-e2e delete deployment late --ignore-not-found --wait=true >/dev/null
kubectl -n palisade-e2e rollout restart deployment/sample >/dev/null
kubectl -n palisade-e2e rollout status deployment/sample --timeout=300s
