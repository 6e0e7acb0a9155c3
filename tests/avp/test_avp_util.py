"""argocd-vault-plugin's replacement tests, run through `cmp-render resolve` against a real OpenBao.

Ported from github.com/argoproj-labs/argocd-vault-plugin at commit b046a7d: pkg/kube/util_test.go
(17 replacement cases, TestStringify's 5 and TestSecretNamespaceName's 2: 24 cases).

AVP calls replaceInner on a bare map with one replacer: genericReplacement (any kind), or
secretReplacement (a Secret). Here each map becomes the top level of a document of a made-up
kind, or of a Secret, whose `avp.kubernetes.io/path` holds the case's Resource.Data (stored in
OpenBao); MockVault data for inline paths is stored likewise and the placeholder points at it.
The result is compared without apiVersion, kind and metadata. TestStringify runs through a
ConfigMap (AVP's configReplacement stringifies). Cases that differ on purpose are in
avp_support.DIFFERENCES and docs/secrets.md.
"""

from __future__ import annotations

import base64

import pytest
import yaml

from avp_support import DIFFERENCES, resolve_docs

PATH = "avp.kubernetes.io/path"
ENVELOPE = ("apiVersion", "kind", "metadata")


def wrap(template: dict, path: str | None, kind: str = "AVPTestKind") -> dict:
    meta = {"name": "t"}
    if path is not None:
        meta["annotations"] = {PATH: path}
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, **template}


def replaced(result) -> dict:
    assert result.code == 0, result.err
    (doc,) = [d for d in yaml.safe_load_all(result.out) if d]
    return {k: v for k, v in doc.items() if k not in ENVELOPE}


def failed(result, *messages: str) -> None:
    assert result.code == 1 and result.out == ""
    for message in messages:
        assert message in result.err, result.err


def test_GenericReplacement_simpleString(avp_vault, avp_env):
    path = avp_vault.store({"namespace": "default"})
    assert replaced(resolve_docs([wrap({"namespace": "<namespace>"}, path)], avp_env)) == {"namespace": "default"}


def test_GenericReplacement_specificPath(avp_vault, avp_env):
    blah = avp_vault.store({"namespace": "default"})
    path = avp_vault.store({"namespace": "something-else", "name": "foo"})
    doc = wrap({"namespace": f"<path:{blah}#namespace>", "name": "<name>"}, path)
    assert replaced(resolve_docs([doc], avp_env)) == {"namespace": "default", "name": "foo"}


def test_GenericReplacement_specificPathWithValidation_valid_path(avp_vault, avp_env):
    blah = avp_vault.store({"namespace": "default"})
    path = avp_vault.store({"namespace": "something-else", "name": "foo"})
    doc = wrap({"namespace": f"<path:{blah}#namespace>", "name": "<name>"}, path)
    env = dict(avp_env, AVP_PATH_VALIDATION="^([A-Za-z/]*)$")
    assert replaced(resolve_docs([doc], env)) == {"namespace": "default", "name": "foo"}


def test_GenericReplacement_specificPathWithValidation_invalid_path(avp_vault, avp_env):
    path = avp_vault.store({"namespace": "something-else"})
    doc = wrap({"namespace": "<path:../blah/blah#namespace>"}, path)
    r = resolve_docs([doc], dict(avp_env, AVP_PATH_VALIDATION="^([A-Za-z/]*)$"))
    failed(r, "the path ../blah/blah is disallowed by AVP_PATH_VALIDATION restriction")


def test_GenericReplacement_specificPathVersioned(avp_vault, avp_env):
    blah = avp_vault.store([{"version": "one"}, {"version": "two"}, {"version": "three"}])
    path = avp_vault.store({})
    doc = wrap({"first": f"<path:{blah}#version#1>", "second": f"<path:{blah}#version#2>",
                "third": f"<path:{blah}#version#3>", "latest": f"<path:{blah}#version>"}, path)
    assert replaced(resolve_docs([doc], avp_env)) == {"first": "one", "second": "two", "third": "three",
                                                      "latest": "three"}


def test_GenericReplacement_specificPathNoAnnotation(avp_vault, avp_env):
    blah = avp_vault.store({"namespace": "default"})
    doc = wrap({"namespace": f"<path:{blah}#namespace>", "description": "for example, write <key>"}, None)
    assert replaced(resolve_docs([doc], avp_env)) == {"namespace": "default", "description": "for example, write <key>"}


def test_GenericReplacement_multiString(avp_vault, avp_env):
    path = avp_vault.store({"namespace": "default", "name": "app", "tag": "latest"})
    doc = wrap({"namespace": "<namespace>", "image": "foo.io/<name>:<tag>"}, path)
    assert replaced(resolve_docs([doc], avp_env)) == {"namespace": "default", "image": "foo.io/app:latest"}


def test_GenericReplacement_Base64(avp_vault, avp_env):
    path = avp_vault.store({"namespace": "default", "name": "app", "tag": "latest"})
    doc = wrap({"namespace": "<namespace | base64encode>", "image": "foo.io/<name>:<tag>"}, path)
    assert replaced(resolve_docs([doc], avp_env)) == {"namespace": base64.b64encode(b"default").decode(),
                                                      "image": "foo.io/app:latest"}


def test_GenericReplacement_JsonPath(avp_vault, avp_env):
    path = avp_vault.store({"data": {"credentials": {"user": "app", "pass": "mypw"},
                                     "image": {"repository": "docker.io/dummy", "tag": "latest"}}})
    doc = wrap({"username": "<data | jsonPath {.credentials.user}>",
                "password": "<data | jsonPath {.credentials.pass} | base64encode>",
                "image": "<data | jsonPath {.image} | jsonParse>"}, path)
    assert replaced(resolve_docs([doc], avp_env)) == {
        "username": "app", "password": "bXlwdw==", "image": {"repository": "docker.io/dummy", "tag": "latest"}}


def test_GenericReplacement_Modifier_Error(avp_vault, avp_env):
    path = avp_vault.store({"data": {}})
    r = resolve_docs([wrap({"image": "<data | jsonPath {.missingPath}>"}, path)], avp_env)
    failed(r, "jsonPath: missingPath is not found for placeholder data in string image: <data | jsonPath {.missingPath}>")


def test_GenericReplacement_Modifier_Undefined(avp_vault, avp_env):
    path = avp_vault.store({"data": {}})
    r = resolve_docs([wrap({"image": "<data | undefinedModifier>"}, path)], avp_env)
    failed(r, "invalid modifier: undefinedModifier for placeholder data in string image: <data | undefinedModifier>")


def test_GenericReplacement_nestedString(avp_vault, avp_env):
    path = avp_vault.store({"namespace": "default", "name": "foo"})
    doc = wrap({"namespace": "<namespace>", "spec": {"selector": {"app": "<name>"}}}, path)
    assert replaced(resolve_docs([doc], avp_env)) == {"namespace": "default", "spec": {"selector": {"app": "foo"}}}


def test_GenericReplacement_int(avp_vault, avp_env):
    path = avp_vault.store({"namespace": "default", "replicas": 1})
    doc = wrap({"namespace": "<namespace>", "spec": {"replicas": "<replicas>"}}, path)
    assert replaced(resolve_docs([doc], avp_env)) == {"namespace": "default", "spec": {"replicas": 1}}


def test_GenericReplacement_missingValue(avp_vault, avp_env):
    path = avp_vault.store({"namespace": "default"})
    r = resolve_docs([wrap({"namespace": "<namespace>", "spec": {"replicas": "<replicas>"}}, path)], avp_env)
    failed(r, "replaceString: missing Vault value for placeholder replicas in string replicas: <replicas>")


def test_SecretReplacement(avp_vault, avp_env):
    path = avp_vault.store({"namespace": "default", "name": "app", "tag": "latest"})
    doc = wrap({"namespace": "<namespace | base64encode>", "image": "foo.io/<name>:<tag>"}, path, kind="Secret")
    assert replaced(resolve_docs([doc], avp_env)) == {"namespace": base64.b64encode(b"default").decode(),
                                                      "image": "foo.io/app:latest"}


def test_SecretReplacement_Base64(avp_vault, avp_env):
    path = avp_vault.store({"namespace": "default", "name": "app", "tag": "latest"})
    doc = wrap({"namespace": "PG5hbWVzcGFjZSB8IGJhc2U2NGVuY29kZT4=", "image": "foo.io/<name>:<tag>"}, path,
               kind="Secret")
    assert replaced(resolve_docs([doc], avp_env)) == {"namespace": "WkdWbVlYVnNkQT09", "image": "foo.io/app:latest"}


def test_SecretReplacement_Base64Substrings(avp_vault, avp_env):
    path = avp_vault.store({"access_key_id": "testkey", "secret_access_key_id": "testsecret"})
    doc = wrap({"data": {"credentials": "W2RlZmF1bHRdCmF3c19hY2Nlc3Nfa2V5X2lkPTxhY2Nlc3Nfa2V5X2lkPgphd3Nfc2VjcmV0X2Fj"
                                        "Y2Vzc19rZXk9PHNlY3JldF9hY2Nlc3Nfa2V5X2lkPgo="}}, path, kind="Secret")
    assert replaced(resolve_docs([doc], avp_env)) == {"data": {
        "credentials": "W2RlZmF1bHRdCmF3c19hY2Nlc3Nfa2V5X2lkPXRlc3RrZXkKYXdzX3NlY3JldF9hY2Nlc3Nfa2V5PXRlc3RzZWNyZXQK"}}


@pytest.mark.parametrize("value, expected", [("thing", "thing"), (123, "123"), (True, "true")],
                         ids=["string", "int", "bool"])
def test_Stringify(avp_vault, avp_env, value, expected):
    """AVP's stringify, through a ConfigMap; a number from Vault is AVP's json.Number case as well."""
    path = avp_vault.store({"v": value})
    doc = wrap({"data": {"v": "<v>"}}, path, kind="ConfigMap")
    assert replaced(resolve_docs([doc], avp_env)) == {"data": {"v": expected}}


def test_Stringify_json_number(avp_vault, avp_env):
    path = avp_vault.store({"v": 123})
    r = resolve_docs([wrap({"data": {"v": "n=<v>"}}, path, kind="ConfigMap")], avp_env)
    assert replaced(r) == {"data": {"v": "n=123"}}


def test_Stringify_bytes_and_SecretNamespaceName_are_not_applicable():
    """[]byte never comes out of Vault's JSON; `--secret-name NS:NAME` (AVP reads its configuration
    from a Kubernetes Secret) is not supported: configuration comes only from the sidecar's
    environment."""
    assert "util/TestStringify/[]byte" in DIFFERENCES
    assert "util/TestSecretNamespaceName" in DIFFERENCES
    from cmp_plugin.cli import main

    with pytest.raises(SystemExit) as info:  # a usage error: exit 2, nothing on stdout
        main(["resolve", "--secret-name", "argocd:avp", "-"])
    assert info.value.code == 2
