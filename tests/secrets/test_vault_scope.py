"""Where placeholders may be, and which paths a project may read. All of this is decided
before Vault is asked: the tests point VAULT_ADDR at a stub and check it got no request."""

from __future__ import annotations

import pytest

from vault_docs import b64, fail, run, secret
from vault_servers import Stub


@pytest.fixture
def idle():
    """A Vault stand-in that must not be called."""
    with Stub(lambda seen: (500, {"errors": ["must not be called"]})) as stub:
        yield stub
    assert stub.seen == []


@pytest.fixture
def env(idle):
    return {"VAULT_ADDR": idle.addr, "VAULT_TOKEN": "unused"}


PH = "<path:kv/data/shop/db#password>"


@pytest.mark.parametrize("doc, where, what", [
    ({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
      "spec": {"template": {"spec": {"containers": [{"env": [{"name": "P", "value": PH}]}]}}}},
     "Deployment/web spec.template.spec.containers[0].env[0].value", "a Deployment"),
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"url": PH}},
     "ConfigMap/cfg data.url", "a ConfigMap"),
    ({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "annotations": {"note": PH}}},
     "Secret/s metadata.annotations.note", "a Secret's metadata"),
    ({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "labels": {"x": PH}}},
     "Secret/s metadata.labels.x", "a Secret's metadata"),
    ({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": PH}, "Secret/s type", "a Secret's type"),
    ({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": {"nested": PH}}},
     "Secret/s stringData.a.nested", "a Secret's stringData"),
    ({"apiVersion": "example.com/v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": PH}},
     "Secret/s stringData.a", "a Secret that is not apiVersion v1"),
    ({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "annotations": {
        "avp.kubernetes.io/path": "kv/data/shop/db"}}, "stringData": {"a": "ok"}, "type": "<password>"},
     "Secret/s type", "a Secret's type"),
])
def test_placeholders_outside_secret_data_fail_closed(env, doc, where, what):
    text = fail([doc], env)
    assert f"{where}: placeholder " in text
    assert f"is not allowed in {what}: secrets are resolved only in the data and stringData of Secret (v1) objects" in text


def test_map_keys_are_never_resolved(env):
    text = fail([secret("s", string_data={PH: "value"})], env)
    assert "is in a map key; only values are resolved" in text


def test_ignored_document_with_placeholders_fails(env):
    doc = secret("s", string_data={"a": PH}, annotations={"avp.kubernetes.io/ignore": "true"})
    assert "has avp.kubernetes.io/ignore, so its placeholders would reach the output unresolved" in fail([doc], env)


def test_ignored_document_without_placeholders_is_left_alone(env):
    doc = secret("s", string_data={"a": "<password> a < b"},
                 annotations={"avp.kubernetes.io/ignore": "True", "avp.kubernetes.io/path": "kv/data/shop/db"})
    assert run([doc], env) == [doc]


def test_no_placeholders_needs_no_vault_at_all():
    docs = [secret("s", string_data={"a": "plain", "b": "a < b > c"}),
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 2}}]
    out = run(docs, {})  # not even VAULT_ADDR
    assert out == docs and out is not docs and out[0] is not docs[0]


@pytest.mark.parametrize("path, rule", [
    ("kv/data/other/db", "is outside project shop's Vault prefix kv/data/shop/"),
    ("kv/data/shopping/db", "is outside project shop's Vault prefix kv/data/shop/"),
    ("kv/data/shop", "is outside project shop's Vault prefix kv/data/shop/"),
    ("kv/data/sho", "is outside project shop's Vault prefix kv/data/shop/"),
    ("kv/data/shop/../other/db", "must not contain empty, . or .. segments"),
    ("kv/data/shop/./db", "must not contain empty, . or .. segments"),
    ("kv/data/shop//db", "must not contain empty, . or .. segments"),
    # leading and trailing slashes are dropped, as AVP's client (path.Join) does; the rest must still fit
    ("/kv/data/other/db", "the path kv/data/other/db is outside project shop's Vault prefix"),
    ("/kv/data/shop//db/", "must not contain empty, . or .. segments"),
    ("kv/data/shop/%2e%2e/other", "contains characters that are not allowed"),
    ("kv/data/shop/db?version=1", "contains characters that are not allowed"),
    ("kv/data/shop/d b", "contains characters that are not allowed"),
    ("kv/data/shop/db\\..\\x", "contains characters that are not allowed"),
    (" kv/data/shop/db", "contains characters that are not allowed"),
    ("sys/raw/kv/data/shop/db", "is outside project shop's Vault prefix"),
    ("auth/token/lookup-self", "is outside project shop's Vault prefix"),
])
def test_path_rules(env, path, rule):
    text = fail([secret("s", string_data={"a": f"<path:{path}#k>"})], env)
    assert rule in text
    assert "Secret/s stringData.a" in text


def test_annotation_path_obeys_the_same_rules(env):
    doc = secret("s", string_data={"a": "<password>"}, annotations={"avp.kubernetes.io/path": "kv/data/other/db"})
    text = fail([doc], env)
    assert "Secret/s metadata.annotations['avp.kubernetes.io/path']: the path kv/data/other/db is outside" in text


def test_other_project_cannot_read_shop(env):
    text = fail([secret("s", string_data={"a": PH})], env, project="other", prefix="kv/data/other")
    assert "the path kv/data/shop/db is outside project other's Vault prefix kv/data/other/" in text


def test_avp_path_validation(env):
    env = dict(env, AVP_PATH_VALIDATION=r"^kv/data/shop/app-[a-z]+/")
    text = fail([secret("s", string_data={"a": PH})], env)
    assert "the path kv/data/shop/db is disallowed by AVP_PATH_VALIDATION restriction" in text


@pytest.mark.parametrize("value, message", [
    ("<path:kv/data/shop/db#k#latest>", "invalid secret version 'latest': expected a positive integer"),
    ("<path:kv/data/shop/db#k#0>", "invalid secret version '0'"),
    ("<path:kv/data/shop/db#k#1#2>", "invalid secret version '1#2'"),
    ("<path:kv/data/shop/db>", "malformed placeholder <path:kv/data/shop/db>: expected <path:PATH#KEY>"),
    ("<path:kv/data/shop/db#k", "malformed placeholder <path:kv/data/shop/db#k: no closing > on the same line"),
])
def test_placeholder_errors(env, value, message):
    assert message in fail([secret("s", string_data={"a": value})], env)


@pytest.mark.parametrize("annotations, message", [
    ({"avp.kubernetes.io/kv-version": "3"}, "Unsupported kvVersion specified: '3'"),
    ({"avp.kubernetes.io/ignore": "yes"}, "avp.kubernetes.io/ignore: expected true or false, got 'yes'"),
    ({"avp.kubernetes.io/remove-missing": "on"}, "avp.kubernetes.io/remove-missing: expected true or false"),
    ({"avp.kubernetes.io/path": ""}, "generic placeholder <password> needs a Vault path"),
    ({"avp.kubernetes.io/path": "kv/data/shop/db", "avp.kubernetes.io/secret-version": "v1"},
     "avp.kubernetes.io/secret-version: invalid secret version 'v1'"),
])
def test_annotation_errors(env, annotations, message):
    assert message in fail([secret("s", string_data={"a": "<password>"}, annotations=annotations)], env)


def test_remove_missing_only_on_secret_or_configmap(env):
    doc = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "annotations": {
        "avp.kubernetes.io/remove-missing": "true"}}, "spec": {"x": PH}}
    text = fail([doc], env, secrets_only=False)
    assert "avp.kubernetes.io/remove-missing annotation can only be used on Secret or ConfigMap resources" in text


def test_every_problem_of_every_document_is_listed(env):
    docs = [secret("a", string_data={"x": "<path:kv/data/other/x#k>", "y": "<path:kv/data/shop/x#k | nope>"}),
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"z": PH}},
            secret("c", data={"w": b64("<path:kv/data/shop/../x#k>")})]
    text = fail(docs, env)
    lines = text.splitlines()
    assert lines[0] == "error: Secret/a: Replace: could not replace all placeholders in Template:"
    assert len([ln for ln in lines if "Replace: could not replace" in ln]) == 3
    assert len(lines) == 7


def test_bad_prefix_setting(env):
    assert "invalid Vault prefix" in fail([secret("s", string_data={"a": PH})], env, prefix="kv/../x")
