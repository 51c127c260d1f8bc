#!/usr/bin/env bash
# End-to-end run on the Vagrant node (as root): installs Palisade and the sample app, then checks
#   traffic (benign 200; SQLi, XSS, path traversal, command injection 403; excluded port direct),
#   a restarted pod, a restarted CNI DaemonSet, a rewritten primary CNI config, a pod created
#   while the CNI DaemonSet was absent (repair), and a clean uninstall.
# Run again at any time: `vagrant provision --provision-with e2e` (it reinstalls first).
# Exit codes: 0 every check passed, 1 a check failed, 2 the setup itself failed.
set -euo pipefail
src=${PALISADE_SRC:-/palisade}
# shellcheck source=vagrant/provision/common.sh
. "$src/vagrant/provision/common.sh"
# shellcheck source=vagrant/lib/checks.sh
. "$src/vagrant/lib/checks.sh"
# shellcheck source=vagrant/lib/cluster.sh
. "$src/vagrant/lib/cluster.sh"

CHECK_RETRIES=${CHECK_RETRIES:-3}
MULTUS_CONF_DIR=/etc/cni/multus/net.d
SQLI='/?id=1%27%20or%201=1--'
section() { printf '\n=== %s\n' "$*"; }
setup_failed() {
    echo "error: e2e setup failed: $*" >&2
    exit 2
}

# Where the plugin's own config lives: the primary conflist (chained) or its standalone conf.
palisade_conf() {
    if [ "$PALISADE_PROFILE" = multus ]; then
        printf '%s/palisade-cni.conf\n' "$MULTUS_CONF_DIR"
    else
        primary_cni_conf
    fi
}

# The full traffic suite against the current pod of the sample app.
check_sample_pod() {
    local pod ip CHECK_PREFIX="$1: "
    pod=$(wait_pod sample) || {
        check_record fail "sample pod ready"
        return 0
    }
    ip=$(pod_ip "$pod")
    echo "--- $1: pod $pod ($ip)"
    expect_ok "pod is injected" pod_is_injected "$pod"
    expect_ok "redirect rules in the pod's netns" pod_has_palisade_rules "$pod"
    if [ "$PALISADE_PROFILE" = multus ]; then
        expect_ok "pod joined the palisade-cni network" pod_in_palisade_network "$pod"
    fi
    check_traffic "http://$ip:8080" "http://$ip:8081"
}

section "install ($PALISADE_PROFILE profile)"
bash "$src/vagrant/provision/40-palisade.sh" || setup_failed "installing the charts"
bash "$src/vagrant/provision/50-sample.sh" || setup_failed "deploying the sample app"

section "traffic through the engine"
check_sample_pod "fresh pod"
svc_ip=$(kubectl -n "$E2E_NS" get service sample -o jsonpath='{.spec.clusterIP}')
CHECK_NAME="via Service: benign" expect_status 200 "http://$svc_ip/"
CHECK_NAME="via Service: SQLi" expect_status 403 "http://$svc_ip$SQLI"

section "restarted pod"
restart_pod sample >/dev/null || true
check_sample_pod "restarted pod"

section "restarted CNI DaemonSet"
kubectl -n "$PALISADE_NAMESPACE" rollout restart daemonset/palisade-cni >/dev/null
kubectl -n "$PALISADE_NAMESPACE" rollout status daemonset/palisade-cni --timeout=180s \
    || setup_failed "palisade-cni DaemonSet not ready"
conf=$(palisade_conf)
CHECK_NAME="plugin config back in $conf" eventually_ok 90 conf_has_palisade "$conf"
restart_pod sample >/dev/null || true
check_sample_pod "after DaemonSet restart"

section "rewritten primary CNI config"
if [ "$PALISADE_PROFILE" = multus ]; then
    # Multus regenerates 00-multus.conf on start; the standalone conf must survive it and be
    # rewritten when it disappears.
    kubectl -n kube-system rollout restart daemonset/kube-multus-ds >/dev/null
    kubectl -n kube-system rollout status daemonset/kube-multus-ds --timeout=180s \
        || setup_failed "Multus not ready after restart"
    rm -f "$conf"
    CHECK_NAME="standalone conf $conf rewritten after removal" eventually_ok 90 conf_has_palisade "$conf"
else
    # The primary CNI's own way: flannel's install-cni init container rewrites its conflist.
    kubectl -n kube-flannel rollout restart daemonset/kube-flannel-ds >/dev/null
    kubectl -n kube-flannel rollout status daemonset/kube-flannel-ds --timeout=180s \
        || setup_failed "flannel not ready after restart"
    CHECK_NAME="plugin re-inserted after flannel restart" eventually_ok 90 conf_has_palisade "$(primary_cni_conf)"
    # And a direct rewrite of the file, whoever does it.
    rewrite_without_palisade "$(primary_cni_conf)"
    CHECK_NAME="plugin re-inserted after the conflist was rewritten" \
        eventually_ok 90 conf_has_palisade "$(primary_cni_conf)"
fi
restart_pod sample >/dev/null || true
check_sample_pod "after primary config rewrite"

section "pod created while the CNI DaemonSet is absent"
kubectl -n "$PALISADE_NAMESPACE" patch daemonset palisade-cni --type=merge \
    -p '{"spec":{"template":{"spec":{"nodeSelector":{"palisade.dev/e2e-no-such-node":"true"}}}}}' >/dev/null
wait_until 120 "palisade-cni pods gone" no_cni_ds_pods || setup_failed "the DaemonSet did not go away"
CHECK_NAME="plugin left $conf when its DaemonSet stopped (cleanupOnExit)" \
    eventually_ok 60 conf_lacks_or_absent "$conf"
kubectl apply -f "$src/vagrant/manifests/late-app.yaml" >/dev/null
if [ "$PALISADE_PROFILE" = multus ]; then
    # Multus cannot attach the missing network: the pod waits (fail closed) until it returns.
    sleep 20
else
    late=$(wait_pod late 180) || setup_failed "the late pod did not start"
    expect_ok "late pod started without redirect rules (the gap is real)" pod_has_no_palisade_rules "$late"
fi
kubectl -n "$PALISADE_NAMESPACE" patch daemonset palisade-cni --type=json \
    -p '[{"op":"remove","path":"/spec/template/spec/nodeSelector"}]' >/dev/null
kubectl -n "$PALISADE_NAMESPACE" rollout status daemonset/palisade-cni --timeout=180s \
    || setup_failed "palisade-cni DaemonSet not ready"
late_is_protected() {
    local pod ip
    pod=$(current_pod late)
    if [ -z "$pod" ] || ! pod_has_palisade_rules "$pod"; then
        return 1
    fi
    ip=$(pod_ip "$pod")
    [ "$(http_status "http://$ip:8080$SQLI")" = 403 ] \
        && [ "$(http_status "http://$ip:8080/")" = 200 ]
}
CHECK_NAME="late pod repaired: rules present, SQLi 403, benign 200" eventually_ok 240 late_is_protected

section "uninstall"
sample_before=$(current_pod sample)
helm uninstall palisade --namespace "$PALISADE_NAMESPACE" --wait --timeout 5m \
    || setup_failed "helm uninstall palisade"
helm uninstall palisade-cni --namespace "$PALISADE_NAMESPACE" --wait --timeout 5m \
    || setup_failed "helm uninstall palisade-cni"
CHECK_NAME="plugin config removed from $conf" eventually_ok 60 conf_lacks_or_absent "$conf"
CHECK_NAME="plugin binary removed from /opt/cni/bin" eventually_ok 60 test ! -e /opt/cni/bin/palisade-cni
if [ "$PALISADE_PROFILE" = multus ]; then
    expect_ok "NetworkAttachmentDefinition removed" nad_absent
fi
if [ -n "$sample_before" ]; then
    ip=$(pod_ip "$sample_before")
    CHECK_NAME="pod injected before uninstall still serves" expect_status 200 "http://$ip:8080/"
fi
kubectl -n "$E2E_NS" delete deployment late --ignore-not-found >/dev/null
kubectl -n "$E2E_NS" rollout restart deployment/sample >/dev/null
kubectl -n "$E2E_NS" rollout status deployment/sample --timeout=300s \
    || setup_failed "sample app not ready after uninstall"
pod=$(wait_pod sample) || setup_failed "the sample app did not come back after uninstall"
ip=$(pod_ip "$pod")
expect_ok "new pod is not injected" pod_not_injected "$pod"
expect_ok "new pod's netns has no Palisade rules" pod_has_no_palisade_rules "$pod"
CHECK_NAME="new pod: benign reaches app" expect_status 200 "http://$ip:8080/"
CHECK_NAME="new pod: SQLi reaches app (no WAF left in the path)" expect_status 200 "http://$ip:8080$SQLI"

section "summary ($PALISADE_PROFILE profile)"
checks_summary
