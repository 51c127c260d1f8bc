#!/usr/bin/env bash
# containerd 1.7 from Docker's apt repository (Debian 12's 1.6 does not pass pod annotations to
# CNI plugins), configured for kubeadm: systemd cgroups, CNI from /opt/cni/bin and /etc/cni/net.d.
set -euo pipefail
# shellcheck source=vagrant/provision/common.sh
. "${PALISADE_SRC:-/palisade}/vagrant/provision/common.sh"

: "${CONTAINERD_VERSION:=1.7.*}"

if ! dpkg-query -W -f='${Status}' containerd.io 2>/dev/null | grep -q 'ok installed'; then
    log "adding Docker's apt repository for containerd.io"
    install -m 0755 -d /etc/apt/keyrings
    retry 3 curl -fsSL https://download.docker.com/linux/debian/gpg -o /etc/apt/keyrings/docker.asc
    chmod a+r /etc/apt/keyrings/docker.asc
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    echo "deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/debian $codename stable" \
        >/etc/apt/sources.list.d/docker.list
    retry 3 apt-get update -qq
    log "installing containerd.io=$CONTAINERD_VERSION"
    retry 3 apt-get install -y -qq --no-install-recommends "containerd.io=$CONTAINERD_VERSION" >/dev/null
    apt-mark hold containerd.io >/dev/null
fi

log "configuring containerd for the kubelet"
mkdir -p /etc/containerd
containerd config default >/etc/containerd/config.toml
sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml
grep -q 'SystemdCgroup = true' /etc/containerd/config.toml \
    || die "could not enable SystemdCgroup in /etc/containerd/config.toml"
systemctl enable containerd >/dev/null 2>&1
systemctl restart containerd
cat >/etc/crictl.yaml <<'CONF'
runtime-endpoint: unix:///run/containerd/containerd.sock
image-endpoint: unix:///run/containerd/containerd.sock
timeout: 30
CONF
log "done: $(containerd --version)"
