"""Fixtures of the secrets tests: one OpenBao dev server set up like a platform's Vault
(kv v2 at kv/, kv v1 at kv1/, AppRole and Kubernetes auth with per-project policies), a
counting proxy in front of it per test, and a private token-cache directory per test."""

from __future__ import annotations

import base64
import json
import os
import uuid

import pytest

from openbao_plugin import _loopback_only, openbao_fresh, openbao_server  # noqa: F401  (fixtures)
from vault_servers import CountingProxy, Stub

# A self-signed CA certificate; OpenBao's Kubernetes auth insists on one, our fake API is plain http.
FAKE_KUBE_CA = """-----BEGIN CERTIFICATE-----
MIIBhDCCASugAwIBAgIUC7ozOdFfiZND94nUV70t1KD9u20wCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMZmFrZS1rdWJlLWNhMCAXDTI2MTEyNzAyNTYzNloYDzIxMjYx
MTAzMDI1NjM2WjAXMRUwEwYDVQQDDAxmYWtlLWt1YmUtY2EwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAASTKPjpzBSnnJcAyfxZMHNb2uie31MVQlznS4s5Ov+LFRVY
YQLshOY5ZAC0WrrPqCBUqxqQcsb9IrbRhcqX/ldeo1MwUTAdBgNVHQ4EFgQUo6vL
G2vPEncyjJfn3Ut+owfzaw0wHwYDVR0jBBgwFoAUo6vLG2vPEncyjJfn3Ut+owfz
aw0wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiApi5ANde2BNUdL
Xpw4C0y/cd0Fw16XQCV4g4McgT0NBgIgL32Gq9GBsHy67/jI3nGEmvylFdFODCPG
2bmAaRLIeQg=
-----END CERTIFICATE-----
"""

SA_NAMESPACE, SA_NAME = "argocd", "argocd-repo-server"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def fake_service_account_jwt() -> str:
    """A JWT shaped like a projected service-account token (the fake TokenReview vouches for it)."""
    header = {"alg": "RS256", "kid": "fake"}
    claims = {"iss": "kubernetes/serviceaccount", "sub": f"system:serviceaccount:{SA_NAMESPACE}:{SA_NAME}",
              "kubernetes.io/serviceaccount/namespace": SA_NAMESPACE,
              "kubernetes.io/serviceaccount/service-account.name": SA_NAME,
              "kubernetes.io/serviceaccount/service-account.uid": "0b9b4ac5-7a1c-4c57-9b1b-2a4b1c0e7d11"}
    return ".".join([_b64url(json.dumps(header).encode()), _b64url(json.dumps(claims).encode()),
                     _b64url(os.urandom(256))])


def _token_review(seen):
    """The Kubernetes TokenReview API, as far as OpenBao's Kubernetes auth uses it."""
    if seen.path != "/apis/authentication.k8s.io/v1/tokenreviews":
        return 404, {"kind": "Status", "code": 404}
    return 201, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                 "status": {"authenticated": True,
                            "user": {"username": f"system:serviceaccount:{SA_NAMESPACE}:{SA_NAME}",
                                     "uid": "0b9b4ac5-7a1c-4c57-9b1b-2a4b1c0e7d11",
                                     "groups": ["system:serviceaccounts"]}}}


class World:
    """What the session's OpenBao holds."""

    def __init__(self, bao, kube_api):
        self.bao = bao
        self.kube_api = kube_api
        self.addr = bao.addr
        self.root = bao.root_token
        bao.enable_kv("kv", 2)
        bao.enable_kv("kv1", 1)
        bao.policy("shop-read", 'path "kv/data/shop/*" { capabilities = ["read"] }\n'
                                'path "kv1/shop/*" { capabilities = ["read"] }')
        bao.policy("other-read", 'path "kv/data/other/*" { capabilities = ["read"] }')
        self.shop_token = bao.token(["shop-read"])
        self.no_policy_token = bao.token(["default"])
        self.shop_role_id, self.shop_secret_id = bao.approle("shop", ["shop-read"])
        self.other_role_id, self.other_secret_id = bao.approle("other", ["other-read"])
        bao.enable_auth("kubernetes", "kubernetes")
        bao.api("POST", "auth/kubernetes/config", {"kubernetes_host": kube_api.addr, "disable_local_ca_jwt": True,
                                                   "kubernetes_ca_cert": FAKE_KUBE_CA})
        for role, policy in (("shop", "shop-read"), ("other", "other-read")):
            bao.api("POST", f"auth/kubernetes/role/{role}", {
                "bound_service_account_names": [SA_NAME], "bound_service_account_namespaces": [SA_NAMESPACE],
                "token_policies": [policy], "token_ttl": "1h"})

    def unique(self, stem: str = "t") -> str:
        """A fresh secret name under the shop prefix, so tests never share state."""
        return f"{stem}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def world(openbao_server):  # noqa: F811
    with Stub(_token_review) as kube_api:
        yield World(openbao_server, kube_api)


@pytest.fixture
def proxy(world):
    """A counting proxy in front of the session's OpenBao; `.seen`, `.logins()`, `.reads()`."""
    with CountingProxy(world.addr) as p:
        yield p


@pytest.fixture
def cache_dir(tmp_path):
    path = tmp_path / "vault-cache"
    path.mkdir(mode=0o700)
    return str(path)


@pytest.fixture
def jwt_file(tmp_path):
    path = tmp_path / "sa-token"
    path.write_text(fake_service_account_jwt() + "\n")
    return str(path)
