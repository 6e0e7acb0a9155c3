"""Token, AppRole and Kubernetes auth against a real OpenBao, the token cache, and how many
requests each run makes (counted by a proxy in front of OpenBao)."""

from __future__ import annotations

import json
import logging
import os
import stat

import pytest

from cmp_plugin.secrets.cache import TokenCache
from cmp_plugin.secrets.config import load_vault_config
from vault_docs import fail, run, secret, vault_env
from vault_servers import Stub, kv2_body


@pytest.fixture
def paths(world):
    """Two secret paths under the shop prefix."""
    a, b = world.unique("a"), world.unique("b")
    world.bao.put_kv2("kv", f"shop/{a}", {"password": "pw-a"})
    world.bao.put_kv2("kv", f"shop/{b}", {"password": "pw-b", "user": "ub"})
    return f"kv/data/shop/{a}", f"kv/data/shop/{b}"


def docs_for(paths):
    a, b = paths
    return [secret("one", string_data={"p": f"<path:{a}#password>", "q": f"<path:{b}#password>"}),
            secret("two", string_data={"u": f"<path:{b}#user>", "p": f"<path:{a}#password>"})]


def approle_env(world, proxy, cache_dir, role="shop"):
    role_id, secret_id = (world.shop_role_id, world.shop_secret_id) if role == "shop" else \
        (world.other_role_id, world.other_secret_id)
    return vault_env(proxy.addr, cache_dir, AVP_AUTH_TYPE="approle", AVP_ROLE_ID=role_id, AVP_SECRET_ID=secret_id)


def test_token_auth_needs_no_login_and_no_cache(world, proxy, cache_dir, paths):
    out = run(docs_for(paths), vault_env(proxy.addr, cache_dir, VAULT_TOKEN=world.shop_token))
    assert out[0]["stringData"] == {"p": "pw-a", "q": "pw-b"}
    assert proxy.logins() == [] and len(proxy.reads()) == 2 and len(proxy.seen) == 2
    assert {s.headers["x-vault-token"] for s in proxy.seen} == {world.shop_token}
    assert os.listdir(cache_dir) == []


def test_approle_logs_in_once_then_uses_the_cache(world, proxy, cache_dir, paths):
    env = approle_env(world, proxy, cache_dir)
    out = run(docs_for(paths), env)
    assert out[1]["stringData"] == {"u": "ub", "p": "pw-a"}
    (login,) = proxy.logins()
    assert (login.path, login.body) == ("/v1/auth/approle/login",
                                        {"role_id": world.shop_role_id, "secret_id": world.shop_secret_id})
    assert "x-vault-token" not in login.headers
    assert len(proxy.reads()) == 2 and len(proxy.seen) == 3  # 1 login + 1 read per distinct path
    # the token is cached in a private file
    (name,) = os.listdir(cache_dir)
    mode = os.stat(os.path.join(cache_dir, name)).st_mode
    assert stat.S_IMODE(mode) == 0o600 and stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700
    token = json.load(open(os.path.join(cache_dir, name)))["token"]
    # later runs: no login, no lookup-self, just the reads
    for _ in range(3):
        proxy.clear()
        run(docs_for(paths), env)
        assert proxy.logins() == [] and len(proxy.seen) == 2
        assert {s.headers["x-vault-token"] for s in proxy.seen} == {token}


def test_cache_is_keyed_by_role(world, proxy, cache_dir, paths):
    shop_env = approle_env(world, proxy, cache_dir, "shop")
    run(docs_for(paths), shop_env)
    shop_token = {s.headers.get("x-vault-token") for s in proxy.reads()}
    other = world.unique("o")
    world.bao.put_kv2("kv", f"other/{other}", {"k": "other-value"})
    proxy.clear()
    other_env = approle_env(world, proxy, cache_dir, "other")
    (out,) = run([secret("o", string_data={"k": f"<path:kv/data/other/{other}#k>"})], other_env,
                 project="other", prefix="kv/data/other")
    assert out["stringData"]["k"] == "other-value"
    assert len(proxy.logins()) == 1  # role B logs in: role A's cached token is not used
    assert {s.headers.get("x-vault-token") for s in proxy.reads()}.isdisjoint(shop_token)
    assert len(os.listdir(cache_dir)) == 2
    proxy.clear()
    run(docs_for(paths), shop_env)  # and role A still finds its own
    assert proxy.logins() == []


def test_kubernetes_auth_for_real(world, proxy, cache_dir, jwt_file, paths):
    env = vault_env(proxy.addr, cache_dir, AVP_AUTH_TYPE="k8s", AVP_K8S_ROLE="shop", AVP_K8S_TOKEN_PATH=jwt_file)
    out = run(docs_for(paths), env)
    assert out[0]["stringData"] == {"p": "pw-a", "q": "pw-b"}
    (login,) = proxy.logins()
    assert login.method == "POST" and login.path == "/v1/auth/kubernetes/login"
    assert login.body == {"role": "shop", "jwt": open(jwt_file).read().strip()}
    assert login.headers["content-type"] == "application/json"
    proxy.clear()
    run(docs_for(paths), env)
    assert proxy.logins() == [] and len(proxy.seen) == 2


def test_kubernetes_role_without_the_policy_is_refused(world, proxy, cache_dir, jwt_file, paths):
    env = vault_env(proxy.addr, cache_dir, AVP_AUTH_TYPE="k8s", AVP_K8S_ROLE="other", AVP_K8S_TOKEN_PATH=jwt_file)
    text = fail(docs_for(paths), env)
    assert "Code: 403. Errors: * 1 error occurred: * permission denied" in text
    assert len(proxy.logins()) == 1


def login_stub(mount_seen: list):
    """A Vault stand-in for custom mounts: records the login, serves one KV v2 secret."""
    def respond(seen):
        if seen.method == "POST":
            mount_seen.append(seen)
            return 200, {"auth": {"client_token": "stub-token", "lease_duration": 3600, "num_uses": 0}}
        if seen.headers.get("x-vault-token") != "stub-token":
            return 403, {"errors": ["permission denied"]}
        return 200, kv2_body({"password": "from-stub"})
    return respond


@pytest.mark.parametrize("extra, login_path", [
    ({"AVP_AUTH_TYPE": "k8s", "AVP_K8S_ROLE": "r1", "AVP_K8S_MOUNT_PATH": "auth/k8s-prod"}, "/v1/auth/k8s-prod/login"),
    ({"AVP_AUTH_TYPE": "k8s", "AVP_K8S_ROLE": "r1", "AVP_K8S_MOUNT_PATH": "k8s-prod"}, "/v1/auth/k8s-prod/login"),
    ({"AVP_AUTH_TYPE": "k8s", "AVP_K8S_ROLE": "r1", "AVP_MOUNT_PATH": "auth/kube2"}, "/v1/auth/kube2/login"),
    ({"AVP_AUTH_TYPE": "approle", "AVP_ROLE_ID": "rid", "AVP_SECRET_ID": "sid", "AVP_MOUNT_PATH": "auth/ar"},
     "/v1/auth/ar/login"),
    # an Application's auth settings never count, not even where the sidecar sets none
    ({"AVP_AUTH_TYPE": "k8s", "AVP_K8S_ROLE": "r1", "ARGOCD_ENV_AVP_K8S_MOUNT_PATH": "auth/app-chosen",
      "ARGOCD_ENV_AVP_MOUNT_PATH": "auth/app-chosen"}, "/v1/auth/kubernetes/login"),
])
def test_login_paths(cache_dir, jwt_file, extra, login_path):
    logins: list = []
    with Stub(login_stub(logins)) as stub:
        env = vault_env(stub.addr, cache_dir, AVP_K8S_TOKEN_PATH=jwt_file, **extra)
        (out,) = run([secret("s", string_data={"p": "<path:kv/data/shop/x#password>"})], env)
    assert out["stringData"]["p"] == "from-stub"
    (login,) = logins
    assert login.path == login_path
    assert set(login.body) == ({"role", "jwt"} if "r1" in extra.values() else {"role_id", "secret_id"})


def cache_for(env) -> TokenCache:
    cfg = load_vault_config(env)
    return TokenCache(cfg.cache_dir, cfg.cache_key())


@pytest.mark.parametrize("expires_in, logins", [
    (None, 0),  # a token that never expires
    (3600, 0),
    (45, 1),  # valid now, but not for the run's budget (30 s) plus the margin: log in
    (-10, 1),
])
def test_cache_expiry(world, proxy, cache_dir, paths, expires_in, logins):
    import time

    env = approle_env(world, proxy, cache_dir)
    token = world.bao.token(["shop-read"])
    cache_for(env).store(token, None if expires_in is None else time.time() + expires_in)
    run(docs_for(paths), env)
    assert len(proxy.logins()) == logins


def test_revoked_cached_token_costs_one_login(world, proxy, cache_dir, paths):
    env = approle_env(world, proxy, cache_dir)
    token = world.bao.token(["shop-read"])
    cache_for(env).store(token, None)
    world.bao.api("POST", "auth/token/revoke", {"token": token})
    out = run(docs_for(paths), env)
    assert out[0]["stringData"]["p"] == "pw-a"
    assert len(proxy.logins()) == 1
    assert [s.path for s in proxy.seen][0].startswith("/v1/kv/data/shop/")  # tried the cached token first


def test_limited_use_tokens_are_not_cached(world, proxy, cache_dir, paths):
    world.bao.api("POST", "auth/approle/role/shop-limited", {"token_policies": ["shop-read"], "token_num_uses": 10})
    role_id = world.bao.api("GET", "auth/approle/role/shop-limited/role-id")["data"]["role_id"]
    secret_id = world.bao.api("POST", "auth/approle/role/shop-limited/secret-id", {})["data"]["secret_id"]
    env = vault_env(proxy.addr, cache_dir, AVP_AUTH_TYPE="approle", AVP_ROLE_ID=role_id, AVP_SECRET_ID=secret_id)
    run(docs_for(paths), env)
    run(docs_for(paths), env)
    assert len(proxy.logins()) == 2 and os.listdir(cache_dir) == []


def _group_writable(path):
    os.chmod(path, 0o770)


def _other_owner(path):
    os.chown(path, 65534, 65534)


def _symlink(path):
    real = path + "-real"
    os.rename(path, real)
    os.symlink(real, path)


@pytest.mark.parametrize("spoil", [_group_writable, _other_owner, _symlink])
def test_unsafe_cache_dir_is_not_used(world, proxy, cache_dir, paths, caplog, spoil):
    if spoil is _other_owner and os.geteuid() != 0:
        pytest.skip("needs root to give the directory away")
    spoil(cache_dir)
    env = approle_env(world, proxy, cache_dir)
    caplog.set_level(logging.WARNING, "cmp_plugin.secrets")
    run(docs_for(paths), env)
    run(docs_for(paths), env)
    assert len(proxy.logins()) == 2  # no cache: every run logs in
    assert "Vault token cache disabled" in caplog.text
    assert not [f for f in os.listdir(os.path.realpath(cache_dir))]


def test_cache_file_with_loose_mode_is_ignored(world, proxy, cache_dir, paths):
    env = approle_env(world, proxy, cache_dir)
    cache = cache_for(env)
    cache.store(world.bao.token(["shop-read"]), None)
    os.chmod(cache.file, 0o644)
    run(docs_for(paths), env)
    assert len(proxy.logins()) == 1


def test_default_cache_dir_is_created_private(world, proxy, tmp_path, paths):
    env = approle_env(world, proxy, "")
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    run(docs_for(paths), env)
    made = tmp_path / "xdg" / "cmp-plugin" / "vault"
    assert stat.S_IMODE(made.stat().st_mode) == 0o700 and len(list(made.iterdir())) == 1
    proxy.clear()
    run(docs_for(paths), env)
    assert proxy.logins() == []


def test_login_failure_names_the_method_not_the_credentials(world, proxy, cache_dir, paths):
    env = vault_env(proxy.addr, cache_dir, AVP_AUTH_TYPE="approle", AVP_ROLE_ID=world.shop_role_id,
                    AVP_SECRET_ID="0f0f0f0f-wrong-secret-id")
    text = fail(docs_for(paths), env)
    assert f"Vault login failed (AppRole auth at auth/approle): Error making API request. URL: POST {proxy.addr}" \
           "/v1/auth/approle/login Code: 400." in text
    assert "placeholders not resolved: Secret/one stringData.p" in text and "and 3 more" in text
    assert "0f0f0f0f-wrong-secret-id" not in text
    assert len(proxy.logins()) == 1 and proxy.reads() == []  # one failed login, then nothing


def test_missing_service_account_token(world, proxy, cache_dir, paths, tmp_path):
    env = vault_env(proxy.addr, cache_dir, AVP_AUTH_TYPE="k8s", AVP_K8S_ROLE="shop",
                    AVP_K8S_TOKEN_PATH=str(tmp_path / "absent"))
    text = fail(docs_for(paths), env)
    assert f"cannot read the Kubernetes service account token {tmp_path / 'absent'}: No such file or directory" in text
    assert proxy.seen == []
