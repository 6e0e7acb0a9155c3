"""argocd-vault-plugin's Vault backend tests, run through `cmp-render resolve` against a real OpenBao.

Ported from github.com/argoproj-labs/argocd-vault-plugin at commit b046a7d: pkg/backends/vault_test.go
(TestVaultLogin, and TestVaultGetSecrets's 7 t.Run cases: 8 cases), against the Vault of
pkg/helpers/test_helpers.go (tests/avp/conftest.py). `GetSecrets(path, version, {kv-version})`
is a document annotated with that path, version and KV version whose generic placeholders name
every key; `GetIndividualSecret` is an inline placeholder.
"""

from __future__ import annotations

import yaml

from avp_support import resolve_docs

PATH, KV, VERSION = "avp.kubernetes.io/path", "avp.kubernetes.io/kv-version", "avp.kubernetes.io/secret-version"


def get_secrets(avp_env, path: str, version: str, kv: str, keys: list[str]):
    annotations = {PATH: path, KV: kv}
    if version:
        annotations[VERSION] = version
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "t", "annotations": annotations},
           "data": {k: f"<{k}>" for k in keys}}
    return resolve_docs([doc], avp_env)


def data_of(result) -> dict:
    assert result.code == 0, result.err
    (doc,) = [d for d in yaml.safe_load_all(result.out) if d]
    return doc["data"]


def test_VaultLogin_will_authenticate_with_approle(avp_vault, avp_env):
    from cmp_plugin.secrets.client import VaultClient
    from cmp_plugin.secrets.config import load_vault_config

    client = VaultClient(load_vault_config(avp_env))
    try:
        assert client.read("secret/foo", "", "1") == {"secret": "bar"}
        assert client.logins == 1
    finally:
        client.close()


def test_VaultGetSecrets_will_get_data_from_vault_with_kv1(avp_env):
    assert data_of(get_secrets(avp_env, "secret/foo", "", "1", ["secret"])) == {"secret": "bar"}


def test_VaultGetSecrets_will_get_data_from_vault_with_kv2(avp_env):
    assert data_of(get_secrets(avp_env, "kv/data/test", "", "2", ["hello"])) == {"hello": "world"}


def test_VaultGetSecrets_GetIndividualSecret(avp_env):
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "t", "annotations": {KV: "2"}},
           "data": {"hello": "<path:kv/data/test#hello>"}}
    assert data_of(resolve_docs([doc], avp_env)) == {"hello": "world"}


def test_VaultGetSecrets_will_honor_version_with_kv2(avp_env):
    assert data_of(get_secrets(avp_env, "kv/data/versioned", "1", "2", ["secret"])) == {"secret": "version1"}
    assert data_of(get_secrets(avp_env, "kv/data/versioned", "", "2", ["secret"])) == {"secret": "version2"}


def test_VaultGetSecrets_will_throw_an_error_if_cant_find_secrets(avp_env):
    r = get_secrets(avp_env, "kv/data/no_path", "", "2", ["x"])
    assert r.code == 1 and r.out == ""
    assert "Could not find secrets at path kv/data/no_path" in r.err


def test_VaultGetSecrets_will_throw_an_error_if_kv2_is_the_wrong_engine(avp_env):
    """AVP's second "will throw an error if cant find secrets" case."""
    r = get_secrets(avp_env, "secret/bad_test", "", "2", ["hello"])
    assert r.code == 1 and r.out == ""
    assert "Could not get data from Vault, check that kv-v2 is the correct engine" in r.err


def test_VaultGetSecrets_will_throw_an_error_if_unsupported_kv_version(avp_env):
    r = get_secrets(avp_env, "kv/data/test", "", "3", ["hello"])
    assert r.code == 1 and r.out == ""
    assert "Unsupported kvVersion specified" in r.err
