"""Logins and reads go through hvac's API (its auth methods and KV engines), while the request
on the wire stays what argocd-vault-plugin sends, and no hvac exception reaches a message."""

from __future__ import annotations

import pytest
from hvac.api.auth_methods import AppRole, Kubernetes
from hvac.api.secrets_engines import KvV1, KvV2

from vault_docs import fail, run, secret, vault_env
from vault_servers import Stub, kv2_body

LOGIN = {"auth": {"client_token": "tok-123", "lease_duration": 600}}


@pytest.fixture
def calls(monkeypatch):
    """Which hvac API methods ran, with their arguments: each method is wrapped, not replaced."""
    seen = []
    for cls, name in ((AppRole, "login"), (Kubernetes, "login"), (KvV1, "read_secret"),
                      (KvV2, "read_secret_version")):
        original = getattr(cls, name)

        def wrapper(self, *args, _original=original, _name=f"{cls.__name__}.{name}", **kwargs):
            seen.append((_name, args, kwargs))
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(cls, name, wrapper)
    return seen


def answer(seen):
    if seen.method == "POST":
        return 200, LOGIN
    if seen.path.startswith("/v1/kv1/"):
        return 200, {"data": {"k": "v1-value"}}
    return 200, kv2_body({"k": "v2-value"})


def test_approle_login_and_kv2_read_use_hvacs_api(calls, cache_dir):
    with Stub(answer) as stub:
        env = vault_env(stub.addr, cache_dir, AVP_AUTH_TYPE="approle", AVP_ROLE_ID="role-1", AVP_SECRET_ID="sid-1",
                        AVP_MOUNT_PATH="team-approle")
        out = run([secret("s", string_data={"x": "<path:kv/data/shop/a#k#3>"})], env)
    assert out[0]["stringData"]["x"] == "v2-value"
    assert [(c[0], c[1]) for c in calls] == [("AppRole.login", ("role-1", "sid-1")),
                                             ("KvV2.read_secret_version", ("shop/a",))]
    assert calls[0][2] == {"use_token": False, "mount_point": "team-approle"}
    assert calls[1][2]["mount_point"] == "kv" and calls[1][2]["version"] == "3"
    login, read = stub.seen
    assert (login.path, login.body) == ("/v1/auth/team-approle/login", {"role_id": "role-1", "secret_id": "sid-1"})
    assert (read.path, read.query, read.headers["x-vault-token"]) == ("/v1/kv/data/shop/a", {"version": "3"}, "tok-123")
    assert read.headers["x-vault-request"] == "true"


def test_kubernetes_login_and_kv1_read_use_hvacs_api(calls, cache_dir, jwt_file):
    with Stub(answer) as stub:
        env = vault_env(stub.addr, cache_dir, AVP_AUTH_TYPE="k8s", AVP_K8S_ROLE="shop", AVP_K8S_TOKEN_PATH=jwt_file,
                        AVP_K8S_MOUNT_PATH="auth/k8s-a", AVP_KV_VERSION="1")
        out = run([secret("s", string_data={"x": "<path:kv1/shop/a#k>"})], env, prefix="kv1/shop")
    assert out[0]["stringData"]["x"] == "v1-value"
    assert [c[0] for c in calls] == ["Kubernetes.login", "KvV1.read_secret"]
    assert calls[0][1][0] == "shop" and calls[0][2] == {"use_token": False, "mount_point": "k8s-a"}
    assert calls[1][1] == ("shop/a",) and calls[1][2] == {"mount_point": "kv1"}
    assert [s.path for s in stub.seen] == ["/v1/auth/k8s-a/login", "/v1/kv1/shop/a"]


@pytest.mark.parametrize("kv, path", [("2", "kv/data/shop/a@b:c+d,e=f~g"), ("1", "kv/data/shop/a@b:c+d,e=f~g"),
                                      ("2", "kv/data/shop/data/x@y")])
def test_path_characters_reach_vault_as_written(kv, path):
    # hvac percent-encodes path parameters; AVP's Go client sends these characters as they are
    with Stub(lambda seen: (200, kv2_body({"k": "v"}) if kv == "2" else {"data": {"k": "v"}})) as stub:
        run([secret("s", string_data={"x": f"<path:{path}#k>"})], vault_env(stub.addr, VAULT_TOKEN="t",
                                                                            AVP_KV_VERSION=kv))
    assert [s.path for s in stub.seen] == [f"/v1/{path}"]


def test_kv2_path_without_data_segment_is_read_as_written(calls):
    with Stub(lambda seen: (404, {"errors": []})) as stub:
        text = fail([secret("s", string_data={"x": "<path:kv/shop/a#k#2>"})],
                    vault_env(stub.addr, VAULT_TOKEN="t"), prefix="kv/shop")
    assert [(s.path, s.query) for s in stub.seen] == [("/v1/kv/shop/a", {"version": "2"})]
    assert calls == []  # hvac's KV v2 API would have inserted data/
    assert "Could not find secrets at path kv/shop/a with version 2" in text


def test_a_404_with_data_is_a_secret_not_an_hvac_exception():
    # hvac raises InvalidPath (with the body) for this answer; AVP reads the data in it
    body = {"data": {"data": None, "metadata": {"version": 2, "destroyed": True, "deletion_time": ""}}}
    with Stub(lambda seen: (404, body)) as stub:
        text = fail([secret("s", string_data={"x": "<path:kv/data/shop/a#k#2>"})], vault_env(stub.addr, VAULT_TOKEN="t"))
    assert "The secret version 2 for Vault path kv/data/shop/a is nil - is this version of the secret deleted?" in text
    assert "InvalidPath" not in text


def test_errors_never_carry_hvac_exception_text():
    with Stub(lambda seen: (400, {"errors": ["bad request from stub"]}, {"Content-Type": "application/json"})) as stub:
        text = fail([secret("s", string_data={"x": "<path:kv/data/shop/a#k>"})], vault_env(stub.addr, VAULT_TOKEN="t"))
    assert f"Error making API request. URL: GET {stub.addr}/v1/kv/data/shop/a Code: 400." \
           " Errors: * bad request from stub" in text
    assert "InvalidRequest" not in text and "on get" not in text  # hvac's exception text: "..., on get <url>"
