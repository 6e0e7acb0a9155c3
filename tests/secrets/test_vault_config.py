"""Vault settings from the environment: AVP's names, ARGOCD_ENV_ precedence, errors (no Vault needed)."""

from __future__ import annotations

import logging
import os

import pytest

from cmp_plugin.problems import Failure
from cmp_plugin.secrets.config import load_rules, load_vault_config

BASE = {"VAULT_ADDR": "https://vault.example:8200", "VAULT_TOKEN": "tok-sidecar"}


def test_token_auth_from_the_sidecar_env():
    cfg = load_vault_config(BASE)
    assert (cfg.addr, cfg.auth, cfg.token, cfg.verify, cfg.cert, cfg.namespace) == \
        ("https://vault.example:8200", "token", "tok-sidecar", True, None, "")
    assert cfg.timeout == 30.0


@pytest.mark.parametrize("name, sidecar, app, expected", [
    # the sidecar decides where credentials go and what TLS trusts: the Application cannot
    ("VAULT_ADDR", "https://vault.example:8200", "http://evil.example", "https://vault.example:8200"),
    ("VAULT_ADDR", None, "http://evil.example", None),
    ("VAULT_NAMESPACE", None, "other-team", ""),
    ("VAULT_SKIP_VERIFY", None, "true", True),  # verify stays True
    ("VAULT_CACERT", None, "/etc/passwd", True),
    ("AVP_K8S_TOKEN_PATH", None, "/etc/shadow", "/var/run/secrets/kubernetes.io/serviceaccount/token"),
    # credentials and roles too: an Application's value never counts, not even to fill a gap
    ("VAULT_TOKEN", "tok-sidecar", "tok-app", "tok-sidecar"),
    ("VAULT_TOKEN", None, "tok-app", "VAULT_TOKEN for token authentication cannot be empty"),
    ("AVP_K8S_ROLE", "sidecar-role", "app-role", "sidecar-role"),
    ("AVP_K8S_ROLE", None, "app-role", "AVP_K8S_ROLE cannot be empty when using Kubernetes Auth"),
])
def test_precedence(name, sidecar, app, expected):
    env = {"VAULT_ADDR": "https://vault.example:8200", "AVP_AUTH_TYPE": "k8s" if "K8S" in name else "token",
           "VAULT_TOKEN": "tok-sidecar", "AVP_K8S_ROLE": "r"}
    env.pop(name, None)
    if sidecar is not None:
        env[name] = sidecar
    env["ARGOCD_ENV_" + name] = app
    if expected is None or (isinstance(expected, str) and "cannot be empty" in expected):
        with pytest.raises(Failure) as info:
            load_vault_config(env)
        assert (expected or "VAULT_ADDR is not set") in str(info.value)
        return
    cfg = load_vault_config(env)
    got = {"VAULT_ADDR": cfg.addr, "VAULT_NAMESPACE": cfg.namespace, "VAULT_SKIP_VERIFY": cfg.verify,
           "VAULT_CACERT": cfg.verify, "AVP_K8S_TOKEN_PATH": cfg.k8s_token_path, "VAULT_TOKEN": cfg.token,
           "AVP_K8S_ROLE": cfg.k8s_role}[name]
    assert got == expected


def test_ignored_application_setting_is_logged_without_its_value(caplog):
    caplog.set_level(logging.WARNING, "cmp_plugin.secrets")
    load_vault_config(dict(BASE, ARGOCD_ENV_VAULT_ADDR="http://evil.example:1"))
    assert "ignoring ARGOCD_ENV_VAULT_ADDR" in caplog.text
    assert "evil" not in caplog.text


def test_kv_version_is_a_per_application_choice():
    assert load_rules({"AVP_KV_VERSION": "2", "ARGOCD_ENV_AVP_KV_VERSION": "1"}).kv_version == "1"
    assert load_rules({"AVP_KV_VERSION": "1"}).kv_version == "1"
    assert load_rules({}).kv_version == "2"


def test_path_validation_cannot_be_loosened_by_an_application():
    rules = load_rules({"AVP_PATH_VALIDATION": "^kv/data/", "ARGOCD_ENV_AVP_PATH_VALIDATION": ".*"})
    assert rules.path_validation.search("kv/data/x") and not rules.path_validation.search("other/kv/data/x")


@pytest.mark.parametrize("env, message", [
    ({}, "VAULT_ADDR is not set"),
    ({"VAULT_ADDR": "vault:8200", "VAULT_TOKEN": "t"}, "VAULT_ADDR must be http(s)://HOST[:PORT]"),
    ({"VAULT_ADDR": "http://v/sub", "VAULT_TOKEN": "t"}, "VAULT_ADDR must be http(s)://HOST[:PORT]"),
    ({"VAULT_ADDR": "http://v"}, "Must provide a supported Authentication Type, received "),
    ({"VAULT_ADDR": "http://v", "AVP_AUTH_TYPE": "token"}, "VAULT_TOKEN for token authentication cannot be empty"),
    ({"VAULT_ADDR": "http://v", "AVP_AUTH_TYPE": "k8s"}, "AVP_K8S_ROLE cannot be empty when using Kubernetes Auth"),
    ({"VAULT_ADDR": "http://v", "AVP_AUTH_TYPE": "approle", "AVP_ROLE_ID": "r"},
     "AVP_ROLE_ID and AVP_SECRET_ID for approle authentication cannot be empty"),
    ({"VAULT_ADDR": "http://v", "AVP_AUTH_TYPE": "github"}, "Must provide a supported Authentication Type, received github"),
    ({"VAULT_ADDR": "http://v", "VAULT_TOKEN": "t", "AVP_TYPE": "awssecretsmanager"}, "Must provide a supported Vault Type"),
    ({"VAULT_ADDR": "http://v", "VAULT_TOKEN": "t", "VAULT_SKIP_VERIFY": "maybe"}, "VAULT_SKIP_VERIFY: expected true or false"),
    ({"VAULT_ADDR": "http://v", "VAULT_TOKEN": "t", "CMP_VAULT_TIMEOUT": "90"}, "CMP_VAULT_TIMEOUT='90': expected seconds above 0 and at most 55"),
    ({"VAULT_ADDR": "http://v", "VAULT_TOKEN": "t", "CMP_VAULT_TIMEOUT": "soon"}, "CMP_VAULT_TIMEOUT='soon': expected seconds"),
    ({"VAULT_ADDR": "http://v", "VAULT_TOKEN": "t", "VAULT_CLIENT_KEY": "/k"}, "VAULT_CLIENT_KEY is set without"),
    ({"VAULT_ADDR": "http://v", "VAULT_TOKEN": "t", "CMP_VAULT_MAX_RESPONSE_BYTES": "0"},
     "CMP_VAULT_MAX_RESPONSE_BYTES='0': expected a whole number above 0"),
    ({"VAULT_ADDR": "http://v", "VAULT_TOKEN": "t", "CMP_VAULT_MAX_RESPONSE_BYTES": "1MiB"},
     "CMP_VAULT_MAX_RESPONSE_BYTES='1MiB': expected a whole number above 0"),
])
def test_config_errors(env, message):
    with pytest.raises(Failure) as info:
        load_vault_config(env)
    assert message in str(info.value)


def test_all_config_problems_at_once():
    with pytest.raises(Failure) as info:
        load_vault_config({"VAULT_SKIP_VERIFY": "maybe", "AVP_AUTH_TYPE": "k8s", "CMP_VAULT_TIMEOUT": "0"})
    assert len(info.value.problems) == 4


@pytest.mark.parametrize("env, message", [
    ({"AVP_KV_VERSION": "3"}, "Unsupported kvVersion specified"),
    ({"AVP_PATH_VALIDATION": "(unclosed"}, "is not a valid regular expression"),
])
def test_rules_errors(env, message):
    with pytest.raises(Failure, match=message):
        load_rules(env)


def test_tls_and_auth_settings():
    cfg = load_vault_config({"VAULT_ADDR": "https://v:8200", "VAULT_CAPATH": "/etc/ca.d", "VAULT_CACERT": "/ca.pem",
                             "VAULT_CLIENT_CERT": "/c.pem", "VAULT_CLIENT_KEY": "/c.key", "AVP_AUTH_TYPE": "approle",
                             "AVP_ROLE_ID": "rid", "AVP_SECRET_ID": "sid", "AVP_MOUNT_PATH": "approle-shop",
                             "VAULT_NAMESPACE": "/team/", "CMP_VAULT_TIMEOUT": "12.5"})
    assert cfg.verify == "/ca.pem"  # VAULT_CACERT wins over VAULT_CAPATH, as with the Vault CLI
    assert cfg.cert == ("/c.pem", "/c.key")
    assert (cfg.approle_mount, cfg.namespace, cfg.timeout) == ("auth/approle-shop", "team", 12.5)
    assert load_vault_config({"VAULT_ADDR": "https://v", "VAULT_TOKEN": "t", "VAULT_SKIP_VERIFY": "1",
                              "VAULT_CACERT": "/ca.pem"}).verify is False
    k8s = load_vault_config({"VAULT_ADDR": "https://v", "AVP_AUTH_TYPE": "k8s", "AVP_K8S_ROLE": "shop"})
    assert (k8s.k8s_mount, k8s.k8s_token_path) == \
        ("auth/kubernetes", "/var/run/secrets/kubernetes.io/serviceaccount/token")
    assert load_vault_config({"VAULT_ADDR": "https://v", "AVP_AUTH_TYPE": "k8s", "AVP_K8S_ROLE": "shop",
                              "AVP_K8S_MOUNT_PATH": "kubernetes-prod"}).k8s_mount == "auth/kubernetes-prod"


def test_response_size_limit_is_a_sidecar_setting():
    assert load_vault_config(BASE).max_response_bytes == 1048576
    assert load_vault_config(dict(BASE, CMP_VAULT_MAX_RESPONSE_BYTES="4096")).max_response_bytes == 4096
    # an Application cannot raise the sidecar's memory bound
    assert load_vault_config(dict(BASE, ARGOCD_ENV_CMP_VAULT_MAX_RESPONSE_BYTES="999999999")).max_response_bytes \
        == 1048576


def test_repr_hides_credentials():
    cfg = load_vault_config({"VAULT_ADDR": "https://v", "AVP_AUTH_TYPE": "approle", "AVP_ROLE_ID": "rid-123",
                             "AVP_SECRET_ID": "sid-456", "VAULT_TOKEN": "tok-789"})
    text = repr(cfg)
    assert "sid-456" not in text and "tok-789" not in text and "rid-123" not in text
    assert "https://v" in text


def test_cache_dir_default(monkeypatch):
    base = {"VAULT_ADDR": "https://v", "VAULT_TOKEN": "t"}
    assert load_vault_config(base).cache_dir == f"/tmp/cmp-plugin-{os.geteuid()}/vault"
    assert load_vault_config(dict(base, XDG_CACHE_HOME="/x/cache")).cache_dir == "/x/cache/cmp-plugin/vault"
    assert load_vault_config(dict(base, XDG_CACHE_HOME="/x", CMP_VAULT_CACHE_DIR="/c")).cache_dir == "/c"


def test_cache_key_separates_roles_and_servers():
    def key(**kw):
        env = {"VAULT_ADDR": "https://v", "AVP_AUTH_TYPE": "approle", "AVP_ROLE_ID": "a", "AVP_SECRET_ID": "s"}
        env.update(kw)
        return load_vault_config(env).cache_key()

    assert key() == key(AVP_SECRET_ID="rotated")  # a new secret id does not throw the token away
    assert len({key(), key(AVP_ROLE_ID="b"), key(VAULT_ADDR="https://w"), key(VAULT_NAMESPACE="ns"),
                key(AVP_MOUNT_PATH="approle2"), key(AVP_AUTH_TYPE="k8s", AVP_K8S_ROLE="a")}) == 6
