#!/usr/bin/env python3
"""Renders charts/palisade-cni and charts/palisade with the Vagrant values (both profiles) through
Helm's own engine (PyPI helm-python-sdk) and checks that they fit what the VM builds:

- the charts' schemas accept vagrant/values/*.yaml;
- every image the charts reference is one vagrant/provision/30-images.sh builds and loads
  (localhost/palisade-{engine,cni,injector}:e2e), never pulled (pullPolicy Never);
- every command a chart runs in one of these images is a binary its Dockerfile installs;
- the profile settings land (repairMode deletePods; standalone + NetworkAttachmentDefinition +
  Multus network for the multus profile).

    python3 vagrant/test/render_values.py
"""

import json
import pathlib
import re
import sys

import helm_python as helm
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
VALUES = ROOT / "vagrant" / "values"
NAMESPACE = "palisade-system"
TAG = "e2e"
IMAGES = {f"localhost/palisade-{name}:{TAG}": name for name in ("engine", "cni", "injector")}


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def values(*files: str) -> dict:
    merged: dict = {}
    for name in files:
        merged = merge(merged, yaml.safe_load((VALUES / name).read_text()) or {})
    return merged


def render(chart: str, vals: dict) -> list:
    loaded = helm.Chart.load(str(ROOT / "charts" / chart))
    loaded.validate_schema(vals)
    out = []
    for path, text in sorted(loaded.render(vals, name=chart, namespace=NAMESPACE, is_install=True).items()):
        if not path.endswith("NOTES.txt"):
            out.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return out


def installed_binaries(image: str) -> set:
    """Binaries the image's Dockerfile copies into /usr/local/bin (COPY --from=build /out/...)."""
    text = (ROOT / "images" / image / "Dockerfile").read_text()
    names = set()
    for line in text.splitlines():
        if line.startswith("COPY --from=build"):
            names.update(re.findall(r"/out/([\w-]+)", line))
    return names


def check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def containers(objs: list) -> list:
    found = []
    for obj in objs:
        spec = obj.get("spec", {}).get("template", {}).get("spec", {})
        found += spec.get("initContainers", []) + spec.get("containers", [])
    return found


def check_image(ref: str, policy: str, command: list, where: str) -> None:
    check(ref in IMAGES, f"{where}: image {ref!r} is not one the VM builds ({sorted(IMAGES)})")
    check(policy == "Never", f"{where}: imagePullPolicy {policy!r}, want Never (images are never pulled)")
    if command:
        binaries = installed_binaries(IMAGES[ref])
        check(command[0] in binaries,
              f"{where}: runs {command[0]!r}, images/{IMAGES[ref]}/Dockerfile installs {sorted(binaries)}")


def check_profile(profile: str) -> None:
    extra_cni = ["palisade-cni-multus.yaml"] if profile == "multus" else []
    extra = ["palisade-multus.yaml"] if profile == "multus" else []
    cni = render("palisade-cni", values("palisade-cni.yaml", *extra_cni))
    pal = render("palisade", values("palisade.yaml", *extra))
    for c in containers(cni) + containers(pal):
        check_image(c["image"], c.get("imagePullPolicy", ""), c.get("command", []), f"{profile}: container {c['name']}")
    install = json.loads(next(o for o in cni if o["kind"] == "ConfigMap")["data"]["install.json"])
    check(install["repairMode"] == "deletePods", f"{profile}: repairMode {install['repairMode']!r}")
    injector = json.loads(next(o for o in pal if o["kind"] == "ConfigMap"
                               and "injector.json" in o.get("data", {}))["data"]["injector.json"])
    # The injector adds these to pods: the engine (image ENTRYPOINT) and palisade-init.
    check_image(injector["engine"]["image"], injector["engine"]["imagePullPolicy"], [], f"{profile}: engine")
    check_image(injector["redirect"]["initImage"], injector["redirect"]["initImagePullPolicy"],
                ["palisade-init"], f"{profile}: palisade-init")
    nads = [o for o in cni if o["kind"] == "NetworkAttachmentDefinition"]
    if profile == "multus":
        check(install["mode"] == "standalone", f"multus: install mode {install['mode']!r}")
        check(install["hostConfDirOnNode"] == "/etc/cni/multus/net.d", "multus: conf dir")
        check(len(nads) == 1 and nads[0]["metadata"]["name"] == "palisade-cni", "multus: one NAD palisade-cni")
        # The NAD lives in `default` so Multus namespaceIsolation lets every namespace use it.
        nad_ns = nads[0]["metadata"].get("namespace") if nads else None
        check(nad_ns == "default", f"multus: NAD namespace {nad_ns!r}, expected 'default'")
        check(injector["multusNetwork"] == "default/palisade-cni", f"multus: network {injector['multusNetwork']!r}")
    else:
        check(install["mode"] == "chained", f"default: install mode {install['mode']!r}")
        check(not nads and injector["multusNetwork"] is None, "default: no Multus network")
    print(f"render ok: {profile} profile ({len(cni) + len(pal)} objects)")


def main() -> int:
    builder = (ROOT / "vagrant" / "provision" / "30-images.sh").read_text()
    check('ref="localhost/palisade-$image:$PALISADE_IMAGE_TAG"' in builder
          and f": \"${{PALISADE_IMAGE_TAG:={TAG}}}\"" in builder,
          "30-images.sh no longer builds localhost/palisade-<image>:e2e")
    for profile in ("default", "multus"):
        check_profile(profile)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as err:
        print(f"error: vagrant values vs charts/images: {err}", file=sys.stderr)
        sys.exit(1)
