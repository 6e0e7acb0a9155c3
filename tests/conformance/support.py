"""Helpers shared by the conformance tests (imported as `support`; fixtures live in conftest.py)."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from cliutil import yaml_docs  # noqa: E402

SEED_APPSET = harness.SHARED / "reference" / "seed-applicationset.yaml"
OUR_APPSET = harness.REPO / "manifests" / "applicationset.yaml"


def load_yaml_docs(path: Path) -> list[dict]:
    return [d for d in yaml_docs(path.read_text()) if d]


# The two sidecars manifests/ ship: (patch file, container name, plugin name it serves).
SIDECARS = {
    "main": (harness.REPO / "manifests" / "repo-server-sidecar.yaml", "cmp-plugin", "cmp-plugin-v1"),
    "seed-compat": (harness.REPO / "manifests" / "seed-compat" / "sidecar.yaml", "cmp-plugin-seed-compat",
                    "argocd-vault-plugin-helm"),
}


def sidecar_bindings(config: str) -> dict[str, str]:
    """The CMP_BIND_* env of one sidecar exactly as its manifest sets it."""
    path, container, _ = SIDECARS[config]
    spec = load_yaml_docs(path)[0]["spec"]["template"]["spec"]
    env = next(c for c in spec["containers"] if c["name"] == container).get("env") or []
    return {e["name"]: e["value"] for e in env if e["name"].startswith("CMP_BIND_")}


def with_params(app: dict, **params: str) -> dict:
    """A copy of app with plugin parameters set (replacing same-named ones)."""
    app = copy.deepcopy(app)
    plugin = app["spec"]["source"]["plugin"]
    kept = [p for p in plugin.get("parameters") or [] if p["name"] not in params]
    plugin["parameters"] = kept + [{"name": k, "string": v} for k, v in params.items()]
    return app


def with_env(app: dict, **env: str) -> dict:
    """A copy of app with plugin env entries set (replacing same-named ones)."""
    app = copy.deepcopy(app)
    plugin = app["spec"]["source"]["plugin"]
    kept = [e for e in plugin.get("env") or [] if e["name"] not in env]
    plugin["env"] = kept + [{"name": k, "value": v} for k, v in env.items()]
    return app


def keep(app: dict) -> dict:
    """secrets=keep, as a parameter for our layout and as env for the seed's (it has no parameters)."""
    if app["spec"]["source"]["plugin"].get("parameters"):
        return with_params(app, secrets="keep")
    return with_env(app, SECRETS="keep")


# --------------------------------------------------------------------------- validation

_validators: dict = {}


def schema_validator(doc: dict):
    """Draft7Validator for a custom resource from ../shared/schemas, or None when it has none."""
    from jsonschema import Draft7Validator

    group, _, version = doc["apiVersion"].rpartition("/")
    path = harness.SCHEMAS / group / f"{doc['kind'].lower()}_{version}.json"
    if path not in _validators:
        _validators[path] = Draft7Validator(json.loads(path.read_text())) if path.exists() else None
    return _validators[path]


def require_schemas() -> None:
    if not (harness.SCHEMAS / "argoproj.io").is_dir():
        pytest.skip(f"upstream JSON Schemas not found at {harness.SCHEMAS} (shared/schemas is not beside the repo)")


def kube_version() -> str:
    import k8s_schema

    return k8s_schema.latest_version()


def validation_errors(doc: dict) -> list[str]:
    """Errors of one object: custom resources against ../shared/schemas, built-in kinds against
    kubernetes-validate's schemas (strict: unknown fields are errors)."""
    import k8s_schema

    name = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
    group = doc["apiVersion"].rpartition("/")[0]
    if "." in group and not group.endswith(".k8s.io"):
        validator = schema_validator(doc)
        if validator is None:
            return [f"{name}: no schema for {doc['apiVersion']} {doc['kind']} in {harness.SCHEMAS}"]
        errors = [f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))]
        # A Sensor's k8s trigger resource is free-form in its schema: validate it as its own kind.
        if doc["kind"] == "Sensor":
            for trigger in (doc.get("spec") or {}).get("triggers") or []:
                resource = (((trigger.get("template") or {}).get("k8s") or {}).get("source") or {}).get("resource")
                if isinstance(resource, dict) and resource.get("apiVersion"):
                    errors += [f"{name} trigger resource: {e}" for e in validation_errors(resource)]
        return errors
    try:
        k8s_schema.validate(doc, kube_version(), strict=True)
    except k8s_schema.ValidationError as exc:
        return [f"{name}: {'/'.join(map(str, exc.path))}: {exc.message}"]
    return []
