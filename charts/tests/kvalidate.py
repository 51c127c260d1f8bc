"""Strict validation of Kubernetes objects against the 1.29 and 1.33 API schemas.

Built-in kinds use kubernetes-validate's strict schemas. Custom resources (ServiceMonitor,
PodMonitor, NetworkAttachmentDefinition, cert-manager) have no schema there: their metadata
is validated against the real ObjectMeta schema (wrapped in a ConfigMap) and the rest against
the hand-written strict schemas in crd-schemas/. Any other kind is an error, never a skip.
"""

import json
import pathlib

import jsonschema
import kubernetes_validate
from kubernetes_validate import utils as kv_utils

KUBE_VERSIONS = ("1.29", "1.33")
CRD_DIR = pathlib.Path(__file__).resolve().parent / "crd-schemas"


class ValidationFailed(Exception):
    pass


def _check_supported() -> None:
    have = {kv_utils.major_minor(v) for v in kv_utils.all_versions()}
    missing = [v for v in KUBE_VERSIONS if v not in have]
    if missing:
        raise ValidationFailed(
            f"kubernetes-validate {kubernetes_validate.__version__} has no schema for "
            f"Kubernetes {', '.join(missing)} (has {', '.join(sorted(have))})"
        )


def _crd_schema(obj: dict):
    group_version = obj["apiVersion"].replace("/", "_")
    path = CRD_DIR / f"{group_version}_{obj['kind']}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def _describe(obj: dict, origin: str) -> str:
    meta = obj.get("metadata") or {}
    return f"{origin}: {obj.get('kind')}/{meta.get('name')}"


def validate_object(obj: dict, origin: str) -> list:
    """Validates one object for every version; returns a list of 'kind version' it passed."""
    _check_supported()
    for key in ("apiVersion", "kind", "metadata"):
        if key not in obj:
            raise ValidationFailed(f"{_describe(obj, origin)}: missing {key}")
    passed = []
    crd = _crd_schema(obj)
    for version in KUBE_VERSIONS:
        try:
            if crd is not None:
                wrapper = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]}
                kubernetes_validate.validate(wrapper, version, strict=True)
                jsonschema.Draft7Validator(crd).validate(obj)
                passed.append(f"{obj['kind']}(crd-schema) {version}")
            else:
                got = kubernetes_validate.validate(obj, version, strict=True)
                passed.append(f"{obj['kind']} {got}")
        except kv_utils.SchemaNotFoundError as e:
            raise ValidationFailed(f"{_describe(obj, origin)}: {e.message}") from None
        except jsonschema.ValidationError as e:
            path = ".".join(str(p) for p in e.absolute_path)
            raise ValidationFailed(
                f"{_describe(obj, origin)} invalid for Kubernetes {version} at '{path}': {e.message}"
            ) from None
    return passed
