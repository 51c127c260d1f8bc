# shellcheck shell=bash
# Cluster-side helpers for e2e.sh (run as root on the node): find a deployment's pod, its IP,
# its network namespace, and whether Palisade's redirect rules are in it.

: "${E2E_NS:=palisade-e2e}"

# The name of a running, not terminating pod with label app=APP (empty when there is none).
current_pod() {
    kubectl -n "$E2E_NS" get pods -l "app=$1" -o json \
        | jq -r '[.items[] | select(.metadata.deletionTimestamp == null
                  and .status.phase == "Running")] | .[0].metadata.name // empty'
}

# Waits for a ready pod of app=APP and prints its name.
wait_pod() {
    local app=$1 timeout=${2:-300} deadline pod
    deadline=$((SECONDS + timeout))
    while :; do
        pod=$(current_pod "$app")
        if [ -n "$pod" ] && kubectl -n "$E2E_NS" wait --for=condition=Ready "pod/$pod" \
            --timeout=10s >/dev/null 2>&1; then
            printf '%s\n' "$pod"
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "timeout after ${timeout}s: no ready pod with app=$app in $E2E_NS" >&2
            kubectl -n "$E2E_NS" get pods -o wide >&2 || true
            return 1
        fi
        sleep 2
    done
}

pod_ip() {
    kubectl -n "$E2E_NS" get pod "$1" -o jsonpath='{.status.podIP}'
}

# Deletes the current pod of app=APP and prints the name of its ready replacement.
restart_pod() {
    local app=$1 old
    old=$(current_pod "$app")
    # Once the delete call returns the old pod carries a deletionTimestamp, which current_pod
    # skips, so the pod waited for is its replacement.
    kubectl -n "$E2E_NS" delete pod "$old" --wait=false >/dev/null
    wait_pod "$app"
}

# The pod's injection marks: the status annotation and the engine container.
pod_is_injected() {
    kubectl -n "$E2E_NS" get pod "$1" -o json | jq -e '
        (.metadata.annotations["palisade.dev/status"] == "injected")
        and ([.spec.initContainers[]?, .spec.containers[]?] | any(.name == "palisade-engine"))' \
        >/dev/null
}

pod_not_injected() {
    kubectl -n "$E2E_NS" get pod "$1" -o json | jq -e '
        (.metadata.annotations["palisade.dev/status"] // "") != "injected"
        and ([.spec.initContainers[]?, .spec.containers[]?] | all(.name != "palisade-engine"))' \
        >/dev/null
}

# The path of the pod's network namespace, from the container runtime.
pod_netns() {
    local sandbox
    sandbox=$(crictl pods --namespace "$E2E_NS" --name "$1" --state ready -q | sed -n 1p)
    [ -n "$sandbox" ] || return 1
    crictl inspectp "$sandbox" \
        | jq -r '.info.runtimeSpec.linux.namespaces[] | select(.type == "network") | .path'
}

# Succeeds when any of Palisade's rules (iptables-nft, iptables-legacy or the nft table)
# exist in the pod's network namespace.
pod_has_palisade_rules() {
    local ns
    ns=$(pod_netns "$1") || return 2
    [ -n "$ns" ] || return 2
    nsenter --net="$ns" iptables-save 2>/dev/null | grep -q 'palisade' && return 0
    nsenter --net="$ns" iptables-legacy-save 2>/dev/null | grep -q 'palisade' && return 0
    nsenter --net="$ns" nft list table inet palisade >/dev/null 2>&1 && return 0
    return 1
}

pod_has_no_palisade_rules() {
    local rc=0
    pod_has_palisade_rules "$1" || rc=$?
    [ "$rc" -eq 1 ]
}

# Whether the palisade-cni plugin is in the given CNI config file.
conf_has_palisade() {
    [ -f "$1" ] && jq -e '(.plugins // [.]) | any(.type == "palisade-cni")' "$1" >/dev/null 2>&1
}

# True when the file is gone or no longer names the plugin (after uninstall or cleanup).
conf_lacks_or_absent() {
    [ ! -e "$1" ] || ! conf_has_palisade "$1"
}

# Rewrites a conflist without palisade-cni, as a primary CNI regenerating its file would
# (write aside, then rename: the way CNI installers replace their config).
rewrite_without_palisade() {
    local conf=$1
    jq 'if .plugins then .plugins |= map(select(.type != "palisade-cni")) else . end' "$conf" \
        >"$conf.e2e-tmp"
    mv "$conf.e2e-tmp" "$conf"
}

cni_ds_pods() {
    kubectl -n "$PALISADE_NAMESPACE" get pods -l app.kubernetes.io/name=palisade-cni -o name
}

no_cni_ds_pods() {
    [ -z "$(cni_ds_pods)" ]
}

# Multus: the pod asks for the palisade-cni network (the injector adds it).
pod_in_palisade_network() {
    kubectl -n "$E2E_NS" get pod "$1" -o json \
        | jq -e '.metadata.annotations["k8s.v1.cni.cncf.io/networks"] // "" | contains("palisade-cni")' \
            >/dev/null
}

nad_absent() {
    ! kubectl -n "$PALISADE_NAMESPACE" get network-attachment-definitions.k8s.cni.cncf.io palisade-cni \
        >/dev/null 2>&1
}
