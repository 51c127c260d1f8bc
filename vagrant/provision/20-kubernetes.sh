#!/usr/bin/env bash
# A single-node kubeadm cluster with flannel as the primary CNI, and Helm.
# Safe to run again: kubeadm init and the flannel install are skipped when already done.
set -euo pipefail
# shellcheck source=vagrant/provision/common.sh
. "${PALISADE_SRC:-/palisade}/vagrant/provision/common.sh"

: "${PALISADE_K8S_MINOR:=v1.33}"
: "${FLANNEL_VERSION:=v0.26.1}"
: "${HELM_VERSION:=v3.16.3}"
pod_cidr=10.244.0.0/16 # flannel's default network

if ! command -v kubeadm >/dev/null 2>&1; then
    log "adding pkgs.k8s.io ($PALISADE_K8S_MINOR) and installing kubelet, kubeadm, kubectl"
    install -m 0755 -d /etc/apt/keyrings
    retry 3 curl -fsSL "https://pkgs.k8s.io/core:/stable:/$PALISADE_K8S_MINOR/deb/Release.key" \
        -o /tmp/k8s-release.key
    gpg --batch --yes --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg /tmp/k8s-release.key
    echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/$PALISADE_K8S_MINOR/deb/ /" \
        >/etc/apt/sources.list.d/kubernetes.list
    retry 3 apt-get update -qq
    # kubernetes-cni (a kubeadm dependency) puts the reference plugins flannel chains
    # (bridge, portmap, host-local, loopback) into /opt/cni/bin.
    retry 3 apt-get install -y -qq --no-install-recommends kubelet kubeadm kubectl kubernetes-cni >/dev/null
    apt-mark hold kubelet kubeadm kubectl >/dev/null
fi
systemctl enable kubelet >/dev/null 2>&1

if [ ! -f /etc/kubernetes/admin.conf ]; then
    # The address the node is reached on: the interface holding the default route.
    node_ip=$(ip -4 -o route get 1.1.1.1 | sed -n 's/.* src \([0-9.]*\).*/\1/p')
    [ -n "$node_ip" ] || die "could not find the node's IPv4 address from the default route"
    log "kubeadm init (node $node_ip, pods $pod_cidr)"
    retry 2 kubeadm config images pull >/dev/null
    kubeadm init --pod-network-cidr="$pod_cidr" --apiserver-advertise-address="$node_ip" \
        --node-name "$(hostname -s)" >/var/log/palisade-kubeadm-init.log 2>&1 \
        || { tail -n 50 /var/log/palisade-kubeadm-init.log >&2; die "kubeadm init failed"; }
fi
for home in /root /home/vagrant; do
    [ -d "$home" ] || continue
    install -d -m 0700 "$home/.kube"
    install -m 0600 /etc/kubernetes/admin.conf "$home/.kube/config"
done
chown -R vagrant:vagrant /home/vagrant/.kube 2>/dev/null || true

wait_until 180 "API server answers" kubectl get --raw /readyz
# A single node runs the workloads too.
kubectl taint nodes --all node-role.kubernetes.io/control-plane- >/dev/null 2>&1 || true

if ! kubectl get namespace kube-flannel >/dev/null 2>&1; then
    log "installing flannel $FLANNEL_VERSION"
    retry 3 curl -fsSL -o /tmp/kube-flannel.yml \
        "https://github.com/flannel-io/flannel/releases/download/$FLANNEL_VERSION/kube-flannel.yml"
    kubectl apply -f /tmp/kube-flannel.yml >/dev/null
fi
log "waiting for flannel and the node"
kubectl -n kube-flannel rollout status daemonset/kube-flannel-ds --timeout=300s
kubectl wait --for=condition=Ready node --all --timeout=300s
kubectl -n kube-system rollout status deployment/coredns --timeout=300s

if ! command -v helm >/dev/null 2>&1; then
    log "installing helm $HELM_VERSION"
    arch=$(dpkg --print-architecture)
    tarball="helm-$HELM_VERSION-linux-$arch.tar.gz"
    retry 3 curl -fsSL -o "/tmp/$tarball" "https://get.helm.sh/$tarball"
    retry 3 curl -fsSL -o "/tmp/$tarball.sha256sum" "https://get.helm.sh/$tarball.sha256sum"
    (cd /tmp && sha256sum -c "$tarball.sha256sum") || die "helm tarball checksum mismatch"
    tar -xzf "/tmp/$tarball" -C /tmp "linux-$arch/helm"
    install -m 0755 "/tmp/linux-$arch/helm" /usr/local/bin/helm
fi
log "done: $(kubectl version 2>/dev/null | tail -n1); helm $(helm version --short)"
