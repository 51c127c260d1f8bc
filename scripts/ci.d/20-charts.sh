#!/usr/bin/env bash
# Charts and Kubernetes objects: Helm's own engine (helm-python-sdk) renders both charts with
# default, OpenShift and option values, lints them, and kubernetes-validate checks every object
# (and the injector's golden patched pods) strictly against the Kubernetes 1.29 and 1.33 schemas.
set -euo pipefail
cd "$(dirname "$0")/../.."

PIP_PACKAGES=(helm-python-sdk kubernetes-validate PyYAML)
if ! python3 -c "import helm_python, kubernetes_validate, yaml" 2>/dev/null; then
    echo "==> pip install ${PIP_PACKAGES[*]}"
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "${PIP_PACKAGES[@]}" \
        || python3 -m pip install -q --break-system-packages "${PIP_PACKAGES[@]}"
fi
python3 -c "import helm_python, kubernetes_validate, yaml" \
    || { echo "error: helm-python-sdk, kubernetes-validate or PyYAML cannot be imported" >&2; exit 1; }
command -v yamllint >/dev/null \
    || { echo "error: yamllint not installed (apt-get install yamllint)" >&2; exit 1; }

echo "==> yamllint chart metadata and values"
yamllint -s -c charts/tests/yamllint.yaml \
    charts/palisade/Chart.yaml charts/palisade/values.yaml charts/palisade/values-openshift.yaml \
    charts/palisade-cni/Chart.yaml charts/palisade-cni/values.yaml charts/palisade-cni/values-openshift.yaml

echo "==> render, lint and validate the charts"
python3 charts/tests/check_charts.py

echo "==> validate the injector's golden patched pods"
shopt -s nullglob
golden=(injector/tests/golden/*.yaml)
if [ "${#golden[@]}" -eq 0 ]; then
    echo "error: no golden pods in injector/tests/golden" >&2
    exit 1
fi
python3 charts/tests/validate_files.py "${golden[@]}"
