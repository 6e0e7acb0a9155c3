"""When Vault fails: unreachable, silent, refusing, sealed, erroring. Bounded retries, one
time budget for the whole run, and a Failure that names path and key."""

from __future__ import annotations

import time

import pytest

from openbao import free_port
from vault_docs import fail, run, secret, vault_env
from vault_servers import CountingProxy, Silent, Stub, kv2_body

A, B = "kv/data/shop/a", "kv/data/shop/b"


def two_paths():
    return [secret("s", string_data={"x": f"<path:{A}#k>", "y": f"<path:{B}#k>", "z": f"<path:{A}#j>"})]


def test_unreachable():
    addr = f"http://127.0.0.1:{free_port()}"
    start = time.monotonic()
    text = fail(two_paths(), vault_env(addr, VAULT_TOKEN="t"))
    assert time.monotonic() - start < 5
    assert f"Vault is unreachable at {addr}: connection refused (GET /v1/{A}, 3 attempts)" in text
    # one problem for the whole outage, naming the first placeholder and how many more
    assert f"placeholders not resolved: Secret/s stringData.x path:{A}#k and 2 more" in text
    assert text.count("unreachable") == 1


def test_silent_vault_hits_the_time_budget():
    with Silent() as silent:
        start = time.monotonic()
        text = fail(two_paths(), vault_env(silent.addr, VAULT_TOKEN="t", CMP_VAULT_TIMEOUT="1.5"))
        took = time.monotonic() - start
    assert 1.4 < took < 4
    assert f"Vault did not answer within the time budget of 1.5 s (CMP_VAULT_TIMEOUT) for GET /v1/{A}" in text
    assert len(silent.conns) == 1  # no retry once the budget is spent, and no second path tried


def test_budget_covers_the_whole_run():
    def slow(seen):
        time.sleep(0.7)
        return 200, kv2_body({"k": "v", "j": "w"})
    with Stub(slow) as stub:
        start = time.monotonic()
        text = fail([secret("s", string_data={f"x{i}": f"<path:kv/data/shop/p{i}#k>" for i in range(6)})],
                    vault_env(stub.addr, VAULT_TOKEN="t", CMP_VAULT_TIMEOUT="1"))
        took = time.monotonic() - start
    assert took < 2.5  # not 6 x 0.7 s
    assert "Vault did not answer within the time budget of 1 s" in text


def test_forbidden(world):
    with CountingProxy(world.addr) as proxy:
        text = fail([secret("s", string_data={"x": f"<path:{A}#k>"})],
                    vault_env(proxy.addr, VAULT_TOKEN=world.no_policy_token))
        assert len(proxy.seen) == 1  # 403 is not retried; token auth has nothing to re-login
    assert f"Secret/s stringData.x: Error making API request. URL: GET {proxy.addr}/v1/{A} Code: 403." in text
    assert "permission denied" in text and f"(placeholder path:{A}#k)" in text
    assert world.no_policy_token not in text


def test_sealed(openbao_fresh):
    bao = openbao_fresh
    bao.enable_kv("kv", 2)
    bao.put_kv2("kv", "shop/a", {"k": "v"})
    with CountingProxy(bao.addr) as proxy:
        env = vault_env(proxy.addr, VAULT_TOKEN=bao.root_token)
        assert run([secret("s", string_data={"x": f"<path:{A}#k>"})], env)[0]["stringData"]["x"] == "v"
        bao.api("PUT", "sys/seal")
        proxy.clear()
        text = fail(two_paths(), env)
        assert len(proxy.seen) == 1  # sealed is not transient: no retry, and no further reads
    assert f"Code: 503. Errors: * Vault is sealed; placeholders not resolved: Secret/s stringData.x path:{A}#k" \
           " and 2 more" in text


def sequence(*statuses):
    """A stub answering with the given statuses in turn, then 200."""
    calls = []

    def respond(seen):
        calls.append(seen)
        status = statuses[len(calls) - 1] if len(calls) <= len(statuses) else 200
        if status == 200:
            return 200, kv2_body({"k": "value"})
        headers = {"Retry-After": "1"} if status == 429 else {}
        return status, {"errors": [f"stub error {status}"]}, headers
    return respond, calls


@pytest.mark.parametrize("statuses, requests, ok", [
    ((500,), 2, True),
    ((502, 504), 3, True),
    ((503,), 2, True),  # a standby or overloaded node, not sealed
    ((429,), 2, True),
    ((412,), 2, True),
    ((500, 500, 500), 3, False),  # bounded: three attempts in all
    ((400,), 1, False),
    ((501,), 1, False),
])
def test_retries(statuses, requests, ok):
    respond, calls = sequence(*statuses)
    with Stub(respond) as stub:
        docs = [secret("s", string_data={"x": f"<path:{A}#k>"})]
        env = vault_env(stub.addr, VAULT_TOKEN="t")
        if ok:
            assert run(docs, env)[0]["stringData"]["x"] == "value"
        else:
            text = fail(docs, env)
            assert f"Code: {statuses[-1]}. Errors: * stub error {statuses[-1]} (placeholder path:{A}#k)" in text
    assert len(calls) == requests


def test_retry_after_is_honoured():
    respond, calls = sequence(429)
    with Stub(respond) as stub:
        start = time.monotonic()
        run([secret("s", string_data={"x": f"<path:{A}#k>"})], vault_env(stub.addr, VAULT_TOKEN="t"))
        assert time.monotonic() - start >= 0.9


def test_login_is_retried_too(cache_dir):
    calls = []

    def respond(seen):
        calls.append(seen)
        if seen.method == "POST":
            if len(calls) == 1:
                return 502, {"errors": ["bad gateway"]}
            return 200, {"auth": {"client_token": "tok", "lease_duration": 60}}
        return 200, kv2_body({"k": "v"})
    with Stub(respond) as stub:
        env = vault_env(stub.addr, cache_dir, AVP_AUTH_TYPE="approle", AVP_ROLE_ID="r", AVP_SECRET_ID="s")
        run([secret("s", string_data={"x": f"<path:{A}#k>"})], env)
    assert [c.method for c in calls] == ["POST", "POST", "GET"]


def test_redirects_are_not_followed():
    with Stub(lambda seen: (200, kv2_body({"k": "stolen"}))) as elsewhere:
        with Stub(lambda seen: (307, b"", {"Location": f"{elsewhere.addr}{seen.path}"})) as vault:
            text = fail([secret("s", string_data={"x": f"<path:{A}#k>"})], vault_env(vault.addr, VAULT_TOKEN="tok-1"))
        assert elsewhere.seen == []  # the token never went to the other host
    assert f"Vault redirected GET /v1/{A} (HTTP 307)" in text


def test_non_json_answer():
    with Stub(lambda seen: (200, b"<html>proxy login page</html>", {"Content-Type": "text/html"})) as stub:
        text = fail([secret("s", string_data={"x": f"<path:{A}#k>"})], vault_env(stub.addr, VAULT_TOKEN="t"))
    assert f"Vault answered GET /v1/{A} with a body that is not JSON" in text
    assert "proxy login page" not in text


def test_errors_of_independent_paths_are_all_listed(world):
    world.bao.put_kv2("kv", "shop/present", {"k": "v"})
    env = vault_env(world.addr, VAULT_TOKEN=world.shop_token)
    text = fail([secret("s", string_data={"a": "<path:kv/data/shop/absent#k>", "b": "<path:kv/data/shop/present#nope>",
                                          "c": "<path:kv/data/shop/present#k>"})], env)
    assert "Secret/s stringData.a: Could not find secrets at path kv/data/shop/absent" in text
    assert "Secret/s stringData.b: replaceString: missing Vault value for placeholder path:kv/data/shop/present#nope" \
           in text
    assert "stringData.c" not in text
