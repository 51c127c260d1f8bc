"""Validates every object in the given YAML files strictly (Kubernetes 1.29 and 1.33).

    python3 charts/tests/validate_files.py injector/tests/golden/*.yaml
"""

import sys

import yaml

from kvalidate import KUBE_VERSIONS, ValidationFailed, validate_object


def main(paths: list) -> int:
    if not paths:
        print("error: no files to validate", file=sys.stderr)
        return 2
    failures = 0
    for path in paths:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        if not docs:
            print(f"FAIL {path}: no objects")
            failures += 1
            continue
        try:
            for doc in docs:
                validate_object(doc, path)
            print(f"ok   {path}: {len(docs)} object(s) valid for Kubernetes {', '.join(KUBE_VERSIONS)}")
        except ValidationFailed as e:
            failures += 1
            print(f"FAIL {e}")
    print(f"golden objects: {len(paths) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
