#!/usr/bin/env bash
# Kernel and OS settings kubeadm needs, and the packages the other steps use.
set -euo pipefail
# shellcheck source=vagrant/provision/common.sh
. "${PALISADE_SRC:-/palisade}/vagrant/provision/common.sh"

log "swap off, kernel modules, sysctls"
swapoff -a
sed -i '/\sswap\s/s/^/#/' /etc/fstab
cat >/etc/modules-load.d/palisade-k8s.conf <<'CONF'
overlay
br_netfilter
CONF
modprobe overlay
modprobe br_netfilter
cat >/etc/sysctl.d/90-palisade-k8s.conf <<'CONF'
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
fs.inotify.max_user_instances = 1024
CONF
sysctl --system >/dev/null

log "apt packages"
retry 3 apt-get update -qq
# iptables/nftables: the node's own binaries, which the palisade-cni plugin calls when the
# kubelet runs it on the host. buildah: builds the images without a Docker daemon.
retry 3 apt-get install -y -qq --no-install-recommends \
    ca-certificates curl gnupg jq rsync iptables nftables conntrack socat ethtool \
    buildah >/dev/null
log "done"
