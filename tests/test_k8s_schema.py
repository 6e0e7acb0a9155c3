"""tests/k8s_schema.py builds each kind's validator once; it must judge every object as
kubernetes-validate's own validate() does: the golden objects and broken copies of them."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest
import yaml

import k8s_schema
from cliutil import REPO

CORE_GROUPS = ("v1", "apps/v1", "batch/v1", "rbac.authorization.k8s.io/v1", "networking.k8s.io/v1", "policy/v1",
               "autoscaling/v2")
VERSION = k8s_schema.latest_version()


def core_objects() -> list[dict]:
    """The first object of each core kind in a golden file."""
    docs = yaml.load_all((REPO / "tests" / "golden" / "blog.yaml").read_text(), Loader=yaml.CSafeLoader)
    first = {}
    for d in docs:
        if d["apiVersion"] in CORE_GROUPS:
            first.setdefault(d["kind"], d)
    return list(first.values())


def broken(doc: dict) -> list[dict]:
    unknown, wrong_type, no_name = copy.deepcopy(doc), copy.deepcopy(doc), copy.deepcopy(doc)
    unknown["spec" if "spec" in doc else "metadata"]["unknownField"] = 1
    wrong_type["metadata"]["labels"] = ["not", "a", "map"]
    no_name["kind"] = "NoSuchKind"
    return [unknown, wrong_type, no_name]


def verdict(validate, doc):
    try:
        return "ok", validate(doc, VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return "invalid", list(exc.path), exc.message
    except kubernetes_validate.SchemaNotFoundError as exc:
        return "no schema", exc.message


@pytest.mark.parametrize("doc", core_objects(), ids=lambda d: f"{d['kind']}-{d['metadata']['name']}")
def test_same_verdict_as_kubernetes_validate(doc):
    for case in [doc, *broken(doc)]:
        expected = verdict(kubernetes_validate.validate, case)
        assert verdict(k8s_schema.validate, case) == expected
    assert verdict(k8s_schema.validate, doc)[0] == "ok"
    assert [verdict(k8s_schema.validate, b)[0] for b in broken(doc)] == ["invalid", "invalid", "no schema"]
