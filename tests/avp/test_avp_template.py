"""argocd-vault-plugin's Template tests, run through `cmp-render resolve` against a real OpenBao.

Ported from github.com/argoproj-labs/argocd-vault-plugin at commit b046a7d: pkg/kube/template_test.go
(13 test functions, TestNewTemplate with 6 t.Run cases: 18 cases), expected outputs from
fixtures/output (copied into tests/avp/fixtures/output).

AVP runs these against a MockVault (`Resource.Data` is what the annotation path would hold,
`mv.LoadData` the versions of any other path), so each case stores those values in OpenBao and
points the document at them: `avp.kubernetes.io/path: path` becomes the stored path, in the input
and in the expected output alike. Ours is a real run: the annotation path must hold data, so a
case whose Resource.Annotations differ from its TemplateData's uses the TemplateData's.
Cases that differ on purpose are in avp_support.DIFFERENCES and docs/secrets.md.
"""

from __future__ import annotations

import yaml

from avp_support import DIFFERENCES, fixture, resolve_docs

PATH = "avp.kubernetes.io/path"
KV = "avp.kubernetes.io/kv-version"
VERSION = "avp.kubernetes.io/secret-version"
REMOVE = "avp.kubernetes.io/remove-missing"
IGNORE = "avp.kubernetes.io/ignore"


def expected_with(name: str, path: str) -> str:
    return fixture(f"output/{name}").replace(f"{PATH}: path\n", f"{PATH}: {path}\n")


def test_ToYAML_Missing_Placeholders(avp_vault, avp_env):
    path = avp_vault.store({})
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": "default", "name": "some-resource",
                                                                "annotations": {PATH: path}},
           "stringData": {"MY_SECRET_STRING": "<string>"}}
    r = resolve_docs([doc], avp_env)
    assert r.code == 1 and r.out == ""
    assert "Replace: could not replace all placeholders in Template:" in r.err
    assert "replaceString: missing Vault value for placeholder string in string MY_SECRET_STRING: <string>" in r.err


def test_ToYAML_Missing_PlaceholdersSpecificPath(avp_vault, avp_env):
    somewhere = avp_vault.store({"different-placeholder": "string"})
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": "default", "name": "some-resource"},
           "stringData": {"MY_SECRET_STRING": f"<path:{somewhere}#string>"}}
    r = resolve_docs([doc], avp_env)
    assert r.code == 1 and r.out == ""
    assert "Replace: could not replace all placeholders in Template:" in r.err
    assert (f"replaceString: missing Vault value for placeholder path:{somewhere}#string in string MY_SECRET_STRING:"
            f" <path:{somewhere}#string>") in r.err


def test_ToYAML_RemoveMissing(avp_vault, avp_env):
    path = avp_vault.store({"num": "NQ=="})
    doc = {"apiVersion": "v1", "kind": "Secret",
           "metadata": {"namespace": "default", "name": "my-app", "annotations": {PATH: path, REMOVE: "true"}},
           "data": {"MY_SECRET_STRING": "<string>", "MY_SECRET_NUM": "<num>"}}
    r = resolve_docs([doc], avp_env)
    assert r.code == 0, r.err
    expected = fixture("output/secret-remove-missing.yaml").replace(f"{PATH}: path/to/secret\n", f"{PATH}: {path}\n")
    assert expected in r.out


def test_ToYAML_RemoveMissingInvalidResource(avp_vault, avp_env):
    path = avp_vault.store({"name": "my-app"})
    doc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"namespace": "default", "name": "<name>", "annotations": {REMOVE: "true", PATH: path}},
           "spec": {"selector": {"app": "<name>"}, "ports": [{"port": "<port>"}]}}
    r = resolve_docs([doc], avp_env)
    assert r.code == 1 and r.out == ""
    assert "Replace: could not replace all placeholders in Template:" in r.err
    assert "avp.kubernetes.io/remove-missing annotation can only be used on Secret or ConfigMap resources" in r.err


# ---- TestNewTemplate ---------------------------------------------------------------------------

def _versions(avp_vault) -> str:
    return avp_vault.store([{"password": "original-value"}, {"password": "changed-value"}])


def test_NewTemplate_will_GetSecrets_for_placeholderd_YAML(avp_vault, avp_env):
    """AVP reads the annotation path of every annotated document; we read it only when a generic
    placeholder needs it. The document resolves the same; it just costs no request."""
    assert "template/TestNewTemplate/will GetSecrets for placeholder'd YAML" in DIFFERENCES
    doc = {"kind": "Service", "apiVersion": "v1",
           "metadata": {"annotations": {KV: "1", PATH: "secret/absent/path"}, "namespace": "default", "name": "my-app"},
           "spec": {"selector": {"app": "my-app"}, "ports": [{"port": "3000"}]}}
    r = resolve_docs([doc], avp_env)  # the path does not exist: AVP fails here, we never read it
    assert r.code == 0, r.err
    assert only(r) == doc


def test_NewTemplate_will_GetSecrets_only_for_YAMLs_without_ignore(avp_vault, avp_env):
    doc = {"kind": "Service", "apiVersion": "v1",
           "metadata": {"namespace": "default", "name": "my-app", "annotations": {IGNORE: "True"}},
           "spec": {"selector": {"app": "my-app"}, "ports": [{"port": "<port>"}]}}
    env = dict(avp_env, VAULT_ADDR="http://127.0.0.1:9")  # nothing may be read: an unreachable Vault
    r = resolve_docs([doc], env)
    assert r.code == 0, r.err
    assert only(r) == doc


def only(result) -> dict:
    (doc,) = [d for d in yaml.safe_load_all(result.out) if d]
    return doc


def _as_string_data(doc: dict) -> dict:
    doc["stringData"] = doc.pop("data")
    return doc


def _versioned_doc(path: str, data: dict, annotations: dict) -> dict:
    return {"kind": "Secret", "apiVersion": "v1",
            "metadata": {"annotations": dict(annotations, **{PATH: path}), "namespace": "default", "name": "my-app"},
            "data": data}


def test_NewTemplate_will_GetSecrets_with_version_given_in_secret_version(avp_vault, avp_env):
    """AVP puts `changed-value` and `original-value` into a Secret's `data`; they are not base64,
    so the API server would refuse the Secret. We stop with that error; the same placeholders
    under stringData resolve to AVP's values."""
    assert "template/TestNewTemplate/will GetSecrets with version given in avp.kubernetes.io/secret-version" \
        in DIFFERENCES
    path = _versions(avp_vault)
    values = {"new-value": f"<path:/{path}#password#2>", "old-value": "<password>"}
    r = resolve_docs([_versioned_doc(path, values, {VERSION: "1"})], avp_env)
    assert r.code == 1 and r.err.count("is not valid base64") == 2
    doc = _as_string_data(_versioned_doc(path, values, {VERSION: "1"}))
    r = resolve_docs([doc], avp_env)
    assert r.code == 0, r.err
    assert only(r)["stringData"] == {"new-value": "changed-value", "old-value": "original-value"}


def test_NewTemplate_will_GetSecrets_with_latest_version_by_default(avp_vault, avp_env):
    assert "template/TestNewTemplate/will GetSecrets with latest version by default" in DIFFERENCES
    path = _versions(avp_vault)
    values = {"old-value": f"<path:/{path}#password#1>", "new-value": "<password>"}
    r = resolve_docs([_versioned_doc(path, values, {})], avp_env)
    assert r.code == 1 and r.err.count("is not valid base64") == 2
    doc = _as_string_data(_versioned_doc(path, values, {}))
    r = resolve_docs([doc], avp_env)
    assert r.code == 0, r.err
    assert only(r)["stringData"] == {"new-value": "changed-value", "old-value": "original-value"}


def test_NewTemplate_GetSecrets_with_path_validation_and_invalid_path(avp_vault, avp_env):
    path = _versions(avp_vault)
    doc = _versioned_doc(path, {"old-value": f"<path:/{path}#password#1>", "new-value": "<password>"}, {})
    r = resolve_docs([doc], dict(avp_env, AVP_PATH_VALIDATION="/[A-Z]/"))
    assert r.code == 1 and r.out == ""
    assert f"the path {path} is disallowed by AVP_PATH_VALIDATION restriction" in r.err


def test_NewTemplate_will_GetSecrets_with_latest_version_and_path_validation_regexp(avp_vault, avp_env):
    assert "template/TestNewTemplate/will GetSecrets with latest version by default and path validation regexp" \
        in DIFFERENCES
    path = _versions(avp_vault)
    env = dict(avp_env, AVP_PATH_VALIDATION="^([A-Za-z/]*)$")
    values = {"old-value": f"<path:/{path}#password#1>", "new-value": "<password>"}
    r = resolve_docs([_versioned_doc(path, values, {})], env)
    assert r.code == 1 and r.err.count("is not valid base64") == 2 and "AVP_PATH_VALIDATION" not in r.err
    doc = _as_string_data(_versioned_doc(path, values, {}))
    r = resolve_docs([doc], env)
    assert r.code == 0, r.err
    assert only(r)["stringData"] == {"new-value": "changed-value", "old-value": "original-value"}


# ---- TestToYAML_* with fixtures/output --------------------------------------------------------

def _meta(path: str, name: str = "<name>", namespace: str | None = "default", **extra) -> dict:
    meta = {"annotations": {PATH: path, **extra}, "name": name}
    if namespace:
        meta["namespace"] = namespace
    return meta


def test_ToYAML_Deployment(avp_vault, avp_env):
    path = avp_vault.store({"replicas": 3, "name": "my-app"})
    doc = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(path),
           "spec": {"replicas": "<replicas>", "template": {"metadata": {"labels": {"app": "<name>"}}}}}
    r = resolve_docs([doc], avp_env)
    assert r.code == 0, r.err
    assert expected_with("small-deployment.yaml", path) in r.out


def test_ToYAML_Service(avp_vault, avp_env):
    path = avp_vault.store({"name": "my-app", "port": 8080})
    doc = {"kind": "Service", "apiVersion": "v1", "metadata": _meta(path),
           "spec": {"selector": {"app": "<name>"}, "ports": [{"port": "<port>"}]}}
    r = resolve_docs([doc], avp_env)
    assert r.code == 0, r.err
    assert expected_with("small-service.yaml", path) in r.out


def test_ToYAML_Secret_PlaceholderedData(avp_vault, avp_env):
    path = avp_vault.store({"name": "my-app", "string": "Zm9v", "num": "NQ=="}, kv="1")
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(path, **{KV: "1"}),
           "data": {"MY_SECRET_STRING": "<string>", "MY_SECRET_NUM": "<num>"}}
    r = resolve_docs([doc], avp_env)
    assert r.code == 0, r.err
    assert expected_with("small-secret.yaml", path) in r.out


def test_ToYAML_CRD_PlaceholderedData(avp_vault, avp_env):
    path = avp_vault.store({"name": "my-app", "two": "two", "username": "user", "password": "pass", "apikey": "123"})
    doc = {"apiVersion": "v1", "kind": "SomeCustomResource", "metadata": _meta(path),
           "data": {"A_SEQUENCE": [1, "<two>"], "A_YAML": "username: <username>\npassword: <password>",
                    "A_SHELL_SCRIPT": "bx login --apikey <apikey>"}}
    r = resolve_docs([doc], avp_env)
    assert r.code == 0, r.err
    # AVP's Resource.Annotations carry the path, its TemplateData none: ours has it in metadata
    expected = fixture("output/small-custom-resource.yaml").replace(
        "metadata:\n", f"metadata:\n  annotations:\n    {PATH}: {path}\n")
    assert expected in r.out


def test_ToYAML_CRD_FakePlaceholders(avp_vault, avp_env):
    apikey = avp_vault.store({"apikey": "123"})
    doc = {"apiVersion": "v1", "kind": "SomeCustomResource", "metadata": {"namespace": "default", "name": "some-resource"},
           "data": {"description": "supported options: <beep>, <boop>",
                    "A_SHELL_SCRIPT": f"bx login --apikey <path:{apikey}#apikey>"}}
    r = resolve_docs([doc], avp_env)
    assert r.code == 0, r.err
    assert fixture("output/small-custom-resource-fake-placeholders.yaml") in r.out


def test_ToYAML_Secret_HardcodedData(avp_vault, avp_env):
    path = avp_vault.store({})
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(path, name="my-app"),
           "data": {"MY_LEAKED_SECRET": "cGFzc3dvcmQ="}}
    r = resolve_docs([doc], avp_env)
    assert r.code == 0, r.err
    assert expected_with("small-secret4.yaml", path) in r.out


def test_ToYAML_Secret_MixedData(avp_vault, avp_env):
    path = avp_vault.store({"name": "my-app", "string": "Zm9v", "num": "NQ=="})
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(path),
           "data": {"MY_SECRET_STRING": "<string>", "MY_SECRET_NUM": "<num>", "MY_LEAKED_SECRET": "cGFzc3dvcmQ="}}
    r = resolve_docs([doc], avp_env)
    assert r.code == 0, r.err
    assert expected_with("small-secret3.yaml", path) in r.out


def test_ToYAML_Secret_PlaceholderedStringData(avp_vault, avp_env):
    """AVP writes `MY_SECRET_NUM: 5`, a number the API server refuses in stringData (a map of
    strings); we write the text "5"."""
    assert "template/TestToYAML_Secret_PlaceholderedStringData" in DIFFERENCES
    path = avp_vault.store({"name": "my-app", "string": "foo", "num": 5})
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(path),
           "stringData": {"MY_SECRET_STRING": "<string>", "MY_SECRET_NUM": "<num>"}}
    r = resolve_docs([doc], avp_env)
    assert r.code == 0, r.err
    expected = expected_with("small-secret2.yaml", path)
    assert "  MY_SECRET_NUM: 5\n" in expected
    assert expected.replace("MY_SECRET_NUM: 5", 'MY_SECRET_NUM: "5"') in r.out


def test_ToYAML_ConfigMap(avp_vault, avp_env):
    path = avp_vault.store({"name": "my-app", "string": "foo", "num": 5})
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(path),
           "data": {"MY_NONSECRET_STRING": "<string>", "MY_NONSECRET_NUM": "<num>"}}
    r = resolve_docs([doc], avp_env)
    assert r.code == 0, r.err
    assert expected_with("small-configmap.yaml", path) in r.out


def test_ToYAML_Ingress(avp_vault, avp_env):
    path = avp_vault.store({"name": "my-app", "host": "foo.com", "secret": "foo-secret"})
    doc = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": _meta(path),
           "spec": {"tls": [{"hosts": ["mysubdomain.<host>"], "secretName": "<secret>"}]}}
    r = resolve_docs([doc], avp_env)
    assert r.code == 0, r.err
    assert expected_with("small-ingress.yaml", path) in r.out


def test_ToYAML_CronJob(avp_vault, avp_env):
    path = avp_vault.store({"name": "my-app", "tag": "latest"})
    doc = {"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": _meta(path, namespace=None),
           "spec": {"schedule": "0 0 0 0 0", "jobTemplate": {"spec": {"template": {"spec": {
               "containers": [{"image": "<name>:<tag>", "name": "<name>"}]}}}}}}
    r = resolve_docs([doc], avp_env)
    assert r.code == 0, r.err
    assert expected_with("small-cronjob.yaml", path) in r.out


def test_ToYAML_Job(avp_vault, avp_env):
    path = avp_vault.store({"name": "my-app", "tag": "latest"})
    doc = {"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(path, namespace=None),
           "spec": {"template": {"spec": {"containers": [{"image": "<name>:<tag>", "name": "<name>"}]}}}}
    r = resolve_docs([doc], avp_env)
    assert r.code == 0, r.err
    assert expected_with("small-job.yaml", path) in r.out
