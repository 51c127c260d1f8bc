"""Renders both charts with Helm's own engine (helm-python-sdk), lints them and validates every
rendered object strictly. Exits non-zero on the first problem, naming it.

    python3 charts/tests/check_charts.py
"""

import pathlib
import sys

import helm_python as helm
import yaml

from kvalidate import KUBE_VERSIONS, ValidationFailed, validate_object

CHARTS = pathlib.Path(__file__).resolve().parent.parent
REPO = CHARTS.parent

# Config files the charts render, pinned where the Rust code parses them in its tests
# (injector: InjectorConfig, installer: InstallConfig). UPDATE_SNAPSHOTS=1 rewrites them.
SNAPSHOTS = {
    "palisade_default": ("injector.json", REPO / "injector/tests/fixtures/chart-injector.json"),
    "palisade_openshift": ("injector.json", REPO / "injector/tests/fixtures/chart-injector-openshift.json"),
    "cni_default": ("install.json", REPO / "cni-plugin/src/install/testdata/chart-install.json"),
    "cni_openshift": ("install.json", REPO / "cni-plugin/src/install/testdata/chart-install-openshift.json"),
}
NAMESPACE = "palisade-system"


def load_values(chart: str, files: list) -> dict:
    merged: dict = {}
    for name in files:
        doc = yaml.safe_load((CHARTS / chart / name).read_text()) or {}
        merged = deep_merge(merged, doc)
    return merged


def deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


# (chart, values files, --set style overrides, checks on the rendered objects)
SCENARIOS = [
    ("palisade", [], {}, "palisade_default"),
    ("palisade", ["values-openshift.yaml"], {}, "palisade_openshift"),
    ("palisade", [], {"certificates": {"provider": "cert-manager"},
                      "metrics": {"serviceMonitor": {"enabled": True}, "podMonitor": {"enabled": True}},
                      "redirect": {"mode": "init"}, "injector": {"failurePolicy": "Ignore",
                      "kubernetesVersion": "1.28", "podDisruptionBudget": {"enabled": False}},
                      "engine": {"crs": {"source": "configMap", "configMap": "my-rules"}}},
     "palisade_options"),
    ("palisade", [], {"certificates": {"provider": "cert-manager", "certManager": {
        "issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}}},
        "grafanaDashboard": {"enabled": False}}, "palisade_external_issuer"),
    ("palisade", [], {"global": {"imageRegistry": "registry.corp", "anything": {"a": 1}},
                      "injector": {"replicas": 1},
                      "certificates": {"provider": "secret", "secret": {
                          "name": "corp-webhook-tls", "caBundle": "Q0EK"}}},
     "palisade_byo_secret"),
    ("palisade-cni", [], {}, "cni_default"),
    ("palisade-cni", ["values-openshift.yaml"], {}, "cni_openshift"),
    ("palisade-cni", [], {"repairMode": "none", "cleanupOnExit": False,
                          "cniConfFile": "10-calico.conflist", "excludeNamespaces": []},
     "cni_repair"),
    ("palisade-cni", [], {"image": {"digest": "sha256:" + "ab" * 32},
                          "global": {"imageRegistry": "registry.corp", "imagePullSecrets": ["corp-pull"]},
                          "imagePullSecrets": ["own-pull"], "podAnnotations": {"team": "net"},
                          "updateStrategy": {"maxUnavailable": "25%"}, "backend": "iptables-legacy",
                          "resourceQuota": {"enabled": True}, "nodeSelector": {"pool": "web"}},
     "cni_options"),
]

# Values that values.schema.json must reject (Helm fails the render).
BAD_VALUES = [
    ("palisade", {"engine": {"mode": "blocking"}}),
    ("palisade", {"engine": {"paranoiaLevel": 5}}),
    ("palisade", {"redirect": {"mode": "ebpf"}}),
    ("palisade", {"injector": {"failurePolicy": "Maybe"}}),
    ("palisade", {"certificates": {"provider": "vault"}}),
    ("palisade", {"engine": {"crs": {"source": "configMap", "configMap": "My_Rules"}}}),
    ("palisade", {"engine": {"crs": {"source": "configMap"}}}),
    ("palisade-cni", {"installMode": "both"}),
    ("palisade-cni", {"repairMode": "deleteNodes"}),
    ("palisade-cni", {"cniBinDir": "relative/bin"}),
    ("palisade-cni", {"image": {"repository": "x", "digest": "latest"}}),
    ("palisade-cni", {"backend": "ipfw"}),
    ("palisade-cni", {"updateStrategy": {"maxUnavailable": 0}}),
]


def by_kind(objs: list, kind: str) -> list:
    return [o for o in objs if o["kind"] == kind]


def one(objs: list, kind: str) -> dict:
    found = by_kind(objs, kind)
    if len(found) != 1:
        raise AssertionError(f"expected one {kind}, rendered {len(found)}")
    return found[0]


def check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def injector_config(objs: list) -> dict:
    import json

    cms = [o for o in by_kind(objs, "ConfigMap") if "injector.json" in o.get("data", {})]
    check(len(cms) == 1, "one ConfigMap with injector.json")
    return json.loads(cms[0]["data"]["injector.json"])


def palisade_common(objs: list) -> None:
    dep = one(objs, "Deployment")
    hook = one(objs, "MutatingWebhookConfiguration")
    check(len(hook["webhooks"]) == 2, "two webhooks (namespace label, pod label)")
    for wh in hook["webhooks"]:
        excluded = [e for e in wh["namespaceSelector"]["matchExpressions"]
                    if e["key"] == "kubernetes.io/metadata.name"][0]
        check("kube-system" in excluded["values"], f"{wh['name']} excludes kube-system")
        check(NAMESPACE in excluded["values"], f"{wh['name']} excludes the release namespace")
        check(wh["clientConfig"]["service"]["path"] == "/mutate", "webhook path /mutate")
    pod = dep["spec"]["template"]
    check(pod["metadata"]["labels"]["palisade.dev/inject"] == "false", "injector never injects itself")
    image = pod["spec"]["containers"][0]["image"]
    check(image == "ghcr.io/palisade-waf/palisade-injector:0.1.0", f"injector image {image}")
    # The injector reads namespaces only: rules ConfigMaps (cluster-wide or a pod's
    # palisade.dev/rules-configmap) are mounted by kubelet, never looked up at admission.
    role = one(objs, "ClusterRole")
    check([r["resources"] for r in role["rules"]] == [["namespaces"]], f"injector RBAC {role['rules']}")
    check(not by_kind(objs, "Role"), "no namespaced Role")


def palisade_default(objs: list) -> None:
    palisade_common(objs)
    check(one(objs, "Deployment")["spec"]["replicas"] == 2, "two injector replicas")
    one(objs, "PodDisruptionBudget")
    spread = one(objs, "Deployment")["spec"]["template"]["spec"]["topologySpreadConstraints"]
    check({c["topologyKey"] for c in spread} == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"},
          "replicas spread across nodes and zones")
    secret = one(objs, "Secret")
    hook = one(objs, "MutatingWebhookConfiguration")
    for wh in hook["webhooks"]:
        check(wh["clientConfig"]["caBundle"] == secret["data"]["ca.crt"], "caBundle is the chart CA")
        check(wh["failurePolicy"] == "Fail", "failurePolicy Fail by default")
    cfg = injector_config(objs)
    check(cfg["engine"]["image"] == "ghcr.io/palisade-waf/palisade-engine:0.1.0", "engine image")
    check(cfg["engine"]["capturePort"] == 15300 and cfg["engine"]["uid"] == 15300, "engine defaults")
    check(cfg["multusNetwork"] is None, "no Multus network by default")
    check(any(o["kind"] == "ConfigMap" and "palisade.json" in o.get("data", {}) for o in objs),
          "Grafana dashboard ConfigMap")
    dashboard_metrics_are_documented()


def dashboard_metrics_are_documented() -> None:
    """Every metric the Grafana dashboard queries is one the engine documents."""
    import json
    import re

    dashboard = json.loads((CHARTS / "palisade/dashboards/palisade.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    names = {re.sub(r"_bucket$", "", m) for e in exprs for m in re.findall(r"palisade_[a-z_]+", e)}
    documented = (REPO / "docs/metrics.md").read_text()
    missing = sorted(n for n in names if f"`{n}`" not in documented)
    check(not missing, f"dashboard queries metrics not in docs/metrics.md: {missing}")


def palisade_openshift(objs: list) -> None:
    palisade_common(objs)
    cfg = injector_config(objs)
    check(cfg["multusNetwork"] == "default/palisade-cni", f"Multus network {cfg['multusNetwork']}")
    check(cfg["engine"]["uid"] is None, "OpenShift assigns the engine UID")
    pod_sc = one(objs, "Deployment")["spec"]["template"]["spec"]["securityContext"]
    check("runAsUser" not in pod_sc, "OpenShift assigns the injector UID")


def palisade_byo_secret(objs: list) -> None:
    """A parent chart's `global`, one replica, and a Secret the user brings (GitOps)."""
    palisade_common(objs)
    check(not by_kind(objs, "Secret"), "no Secret rendered: the user brings it")
    check(not by_kind(objs, "PodDisruptionBudget"), "no PDB with one replica")
    hook = one(objs, "MutatingWebhookConfiguration")
    check(all(w["clientConfig"]["caBundle"] == "Q0EK" for w in hook["webhooks"]), "caBundle given")
    spec = one(objs, "Deployment")["spec"]["template"]["spec"]
    tls = [v for v in spec["volumes"] if v["name"] == "tls"][0]
    check(tls["secret"]["secretName"] == "corp-webhook-tls", "the user's Secret is mounted")
    check("topologySpreadConstraints" not in spec, "no spread constraints with one replica")


def palisade_options(objs: list) -> None:
    palisade_common(objs)
    check(not by_kind(objs, "Secret"), "cert-manager provides the Secret")
    check(not by_kind(objs, "PodDisruptionBudget"), "PDB disabled")
    one(objs, "Certificate")
    one(objs, "Issuer")
    one(objs, "ServiceMonitor")
    one(objs, "PodMonitor")
    hook = one(objs, "MutatingWebhookConfiguration")
    check("cert-manager.io/inject-ca-from" in hook["metadata"]["annotations"], "CA injected by cert-manager")
    check(all(w["failurePolicy"] == "Ignore" for w in hook["webhooks"]), "failurePolicy Ignore")
    cfg = injector_config(objs)
    check(cfg["kubernetesVersion"] == "1.28" and cfg["redirect"]["mode"] == "init", "options reach the config")
    check(cfg["engine"]["rulesConfigMap"] == "my-rules", "rules ConfigMap")


def palisade_external_issuer(objs: list) -> None:
    check(not by_kind(objs, "Issuer"), "no self-signed Issuer with an external issuerRef")
    cert = one(objs, "Certificate")
    check(cert["spec"]["issuerRef"]["kind"] == "ClusterIssuer", "issuerRef kept")


def cni_daemonset(objs: list) -> dict:
    ds = one(objs, "DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    check(spec["hostNetwork"] is True, "hostNetwork")
    check({"operator": "Exists"} in spec["tolerations"], "tolerates all taints")
    check(spec["priorityClassName"] == "system-node-critical", "system-node-critical")
    check(spec["nodeSelector"].get("kubernetes.io/os") == "linux", "nodeSelector kubernetes.io/os: linux")
    check(spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", "seccompProfile RuntimeDefault")
    env = {e["name"]: e for e in spec["containers"][0]["env"]}
    check(env["PALISADE_DAEMONSET"]["value"] == ds["metadata"]["name"], "installer knows its DaemonSet")
    check(env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace", "POD_NAMESPACE")
    roles = [r for r in by_kind(objs, "Role") if r["metadata"]["name"].endswith("-daemonset")]
    check(len(roles) == 1 and roles[0]["rules"][0]["resources"] == ["daemonsets"]
          and roles[0]["rules"][0]["resourceNames"] == [ds["metadata"]["name"]],
          "the installer may get its own DaemonSet (uninstall only when it is deleted)")
    return ds


def cni_common(objs: list) -> dict:
    ds = cni_daemonset(objs)
    spec = ds["spec"]["template"]["spec"]
    check(spec["containers"][0]["image"] == "ghcr.io/palisade-waf/palisade-cni:0.1.0", "cni image")
    check("imagePullSecrets" not in spec, "no pull secrets by default")
    check(ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] == 1, "maxUnavailable 1")
    check(not by_kind(objs, "ResourceQuota"), "no ResourceQuota by default")
    import json

    return json.loads(one(objs, "ConfigMap")["data"]["install.json"])


def cni_default(objs: list) -> None:
    cfg = cni_common(objs)
    check(cfg["mode"] == "chained" and cfg["hostConfDirOnNode"] == "/etc/cni/net.d", "chained defaults")
    check(not by_kind(objs, "NetworkAttachmentDefinition"), "no NAD on plain Kubernetes")
    rules = one(objs, "ClusterRole")["rules"]
    check(cfg["repairMode"] == "deletePods" and "delete" in rules[0]["verbs"],
          "repair deletes unprotected pods by default")


def cni_openshift(objs: list) -> None:
    cfg = cni_common(objs)
    check(cfg["mode"] == "standalone", "standalone on OpenShift")
    check(cfg["hostBinDirOnNode"] == "/var/lib/cni/bin", "OpenShift bin dir")
    check(cfg["hostConfDirOnNode"] == "/etc/cni/multus/net.d", "Multus conf dir")
    nad = one(objs, "NetworkAttachmentDefinition")
    check(nad["metadata"]["namespace"] == "default",
          "NetworkAttachmentDefinition in `default` (Multus namespaceIsolation)")
    roles = [r for r in by_kind(objs, "Role") if r["metadata"]["name"].endswith("-scc")]
    check(len(roles) == 1 and roles[0]["rules"][0]["resources"] == ["securitycontextconstraints"],
          "SCC use Role")
    check(len(by_kind(objs, "RoleBinding")) == 2, "RoleBindings for the SCC and the DaemonSet")
    ds = one(objs, "DaemonSet")
    check(ds["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] is True, "privileged")


def cni_repair(objs: list) -> None:
    cfg = cni_common(objs)
    check(cfg["repairMode"] == "none" and cfg["cleanupOnExit"] is False, "repair options")
    check("delete" not in one(objs, "ClusterRole")["rules"][0]["verbs"], "no pod deletion without repair")


def cni_options(objs: list) -> None:
    import json

    ds = cni_daemonset(objs)
    pod = ds["spec"]["template"]
    spec = pod["spec"]
    image = spec["containers"][0]["image"]
    check(image == "registry.corp/ghcr.io/palisade-waf/palisade-cni@sha256:" + "ab" * 32,
          f"image by digest with the global registry: {image}")
    check(spec["imagePullSecrets"] == [{"name": "corp-pull"}, {"name": "own-pull"}], "pull secrets")
    check(pod["metadata"]["annotations"]["team"] == "net", "pod annotations")
    check("checksum/config" in pod["metadata"]["annotations"], "config checksum kept")
    check(ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] == "25%", "maxUnavailable")
    check(spec["nodeSelector"] == {"pool": "web", "kubernetes.io/os": "linux"}, "nodeSelector merged")
    quota = one(objs, "ResourceQuota")
    scope = quota["spec"]["scopeSelector"]["matchExpressions"][0]
    check(scope["scopeName"] == "PriorityClass" and scope["values"] == ["system-node-critical"],
          "ResourceQuota scopes system-node-critical")
    cfg = json.loads(one(objs, "ConfigMap")["data"]["install.json"])
    check(cfg["backend"] == "iptables-legacy", "backend reaches install.json")
    mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    check(cfg["pluginLogFile"].startswith(mounts["plugin-log-dir"] + "/"),
          "the plugin's log file is in a directory the installer mounts (copied to its log)")


def check_snapshot(checker: str, objs: list) -> None:
    import json
    import os

    if checker not in SNAPSHOTS:
        return
    key, path = SNAPSHOTS[checker]
    cms = [o for o in by_kind(objs, "ConfigMap") if key in o.get("data", {})]
    check(len(cms) == 1, f"one ConfigMap with {key}")
    rendered = json.loads(cms[0]["data"][key])
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(json.dumps(rendered, indent=2, sort_keys=True) + "\n")
    check(path.exists(), f"{path} missing (run with UPDATE_SNAPSHOTS=1)")
    check(json.loads(path.read_text()) == rendered,
          f"{key} rendered by the chart differs from {path.relative_to(REPO)} (the file the Rust tests parse)")


def render(chart: str, values: dict) -> list:
    loaded = helm.Chart.load(str(CHARTS / chart))
    loaded.validate_schema(values)
    manifests = loaded.render(values, name=chart, namespace=NAMESPACE, is_install=True)
    objs = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc["__origin"] = path
                objs.append(doc)
    return objs


def lint(chart: str, values: dict, label: str) -> None:
    for version in KUBE_VERSIONS:
        report = helm.lint(str(CHARTS / chart), values, strict=True, namespace=NAMESPACE,
                           kube_version=f"v{version}.0")
        bad = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
        if bad:
            raise AssertionError(f"helm lint {label} (Kubernetes {version}): {bad}")


def main() -> int:
    print(f"helm SDK {helm.helm_sdk_version()} via helm-python-sdk {helm.__version__}")
    failures = 0
    for chart, files, overrides, checker in SCENARIOS:
        label = f"{chart}[{checker}]"
        try:
            values = deep_merge(load_values(chart, files), overrides)
            objs = render(chart, values)
            count = 0
            for obj in objs:
                origin = obj.pop("__origin")
                validate_object(obj, origin)
                count += 1
            globals()[checker](objs)
            check_snapshot(checker, objs)
            lint(chart, values, label)
            print(f"ok   {label}: {count} objects valid for Kubernetes {', '.join(KUBE_VERSIONS)}; lint clean")
        except (AssertionError, ValidationFailed, helm.HelmError) as e:
            failures += 1
            print(f"FAIL {label}: {e}")
    for chart, values in BAD_VALUES:
        try:
            helm.Chart.load(str(CHARTS / chart)).render(values, name=chart, namespace=NAMESPACE)
            failures += 1
            print(f"FAIL {chart}: schema accepted bad values {values}")
        except helm.HelmValuesError as e:
            print(f"ok   {chart}: schema rejects {values} ({str(e).splitlines()[0][:90]})")
    total = len(SCENARIOS) + len(BAD_VALUES)
    print(f"charts: {total - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
