# shellcheck shell=bash
# Helpers shared by the provisioning scripts and e2e.sh (sourced; runs as root in the VM).

: "${PALISADE_PROFILE:=default}"
: "${PALISADE_SRC:=/palisade}"
: "${PALISADE_NAMESPACE:=palisade-system}"
export KUBECONFIG=/etc/kubernetes/admin.conf
export DEBIAN_FRONTEND=noninteractive

log() { printf '==> [%s] %s\n' "$(basename "$0" .sh)" "$*"; }
die() {
    printf 'error: [%s] %s\n' "$(basename "$0" .sh)" "$*" >&2
    exit 1
}

# retry N CMD...: runs CMD up to N times, 5 s apart (downloads and API calls right after start-up).
retry() {
    local n=$1 i=1
    shift
    until "$@"; do
        if [ "$i" -ge "$n" ]; then
            return 1
        fi
        i=$((i + 1))
        sleep 5
    done
}

# wait_until TIMEOUT DESCRIPTION CMD...: polls CMD every 2 s until it succeeds or TIMEOUT s pass.
wait_until() {
    local timeout=$1 what=$2 deadline
    shift 2
    deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            printf 'timeout after %ss: %s\n' "$timeout" "$what" >&2
            return 1
        fi
        sleep 2
    done
}

# The CNI config file containerd uses: the first *.conf/*.conflist in /etc/cni/net.d.
primary_cni_conf() {
    find /etc/cni/net.d -maxdepth 1 -type f \( -name '*.conf' -o -name '*.conflist' \) \
        | LC_ALL=C sort | sed -n 1p
}
