"""When Vault fails: unreachable, silent, refusing, sealed, erroring. Bounded retries, one
time budget for the whole run, and a Failure that names path and key."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from cliutil import EXAMPLES, REPO, clean_env

from vault_docs import fail, run, secret, vault_env
from loopback import Silent, Trickle
from vault_servers import CountingProxy, Stub, http_answer, kv2_body

A, B = "kv/data/shop/a", "kv/data/shop/b"


def two_paths():
    return [secret("s", string_data={"x": f"<path:{A}#k>", "y": f"<path:{B}#k>", "z": f"<path:{A}#j>"})]


def test_unreachable():
    with socket.socket() as closed:  # bound but not listening: connections are refused, and no other test takes it
        closed.bind(("127.0.0.1", 0))
        addr = f"http://127.0.0.1:{closed.getsockname()[1]}"
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


# ---- slow, huge and deeply nested answers ------------------------------------------------------

ONE = [secret("s", string_data={"x": f"<path:{A}#k>"})]
KV2 = json.dumps(kv2_body({"k": "v"})).encode()
DEEP = 100_000


@pytest.mark.parametrize("fast, slow", [
    (http_answer(KV2)[:-len(KV2)], KV2),  # headers at once, then the body a byte at a time
    (b"HTTP/1.1 200 OK\r\n", http_answer(KV2)[17:]),  # the headers a byte at a time too
], ids=["body", "headers"])
def test_budget_covers_an_answer_that_trickles(fast, slow):
    with Trickle(fast, slow, delay=0.1) as vault:  # every read gets a byte in time: no socket timeout
        start = time.monotonic()
        text = fail(ONE, vault_env(vault.addr, VAULT_TOKEN="t", CMP_VAULT_TIMEOUT="1"))
        took = time.monotonic() - start
    assert took < 3  # not len(answer) x 0.1 s
    assert f"Vault did not answer within the time budget of 1 s (CMP_VAULT_TIMEOUT) for GET /v1/{A}" in text
    assert vault.requests == 1


def test_response_size_limit_while_streaming():
    """A chunked answer (no length up front) is cut off at the limit, not read to its end."""
    stall = threading.Event()

    def chunks():
        yield b'{"data": {"data": {"k": "'
        for _ in range(24):  # 1.5 MiB, then nothing: a client reading it all first would hang here
            yield b"x" * 65536
        stall.wait(10)

    try:
        with Stub(lambda seen: (200, chunks(), {"Content-Type": "application/json"})) as stub:
            start = time.monotonic()
            text = fail(ONE, vault_env(stub.addr, VAULT_TOKEN="t", CMP_VAULT_TIMEOUT="2"))
            took = time.monotonic() - start
    finally:
        stall.set()
    assert f"Vault's response to GET /v1/{A} at {stub.addr} exceeds the 1048576-byte limit" \
           " (CMP_VAULT_MAX_RESPONSE_BYTES)" in text
    assert took < 1.5 and "xxxx" not in text
    assert len(stub.seen) == 1  # not retried


def test_response_size_limit_from_content_length():
    """A Content-Length over the limit is refused before any of the body is read."""
    with Trickle(http_answer(b'{"data"', length=30 * 1024 * 1024)) as vault:
        start = time.monotonic()
        text = fail(ONE, vault_env(vault.addr, VAULT_TOKEN="t", CMP_VAULT_TIMEOUT="2"))
        took = time.monotonic() - start
    assert "exceeds the 1048576-byte limit (CMP_VAULT_MAX_RESPONSE_BYTES)" in text
    assert took < 1.5


def test_response_size_limit_is_a_setting():
    with Stub(lambda seen: (200, KV2, {"Content-Type": "application/json"})) as stub:
        env = vault_env(stub.addr, VAULT_TOKEN="t", CMP_VAULT_MAX_RESPONSE_BYTES=str(len(KV2)))
        assert run(ONE, env)[0]["stringData"]["x"] == "v"  # exactly at the limit
        env["CMP_VAULT_MAX_RESPONSE_BYTES"] = str(len(KV2) - 1)
        text = fail(ONE, env)
    assert f"exceeds the {len(KV2) - 1}-byte limit (CMP_VAULT_MAX_RESPONSE_BYTES)" in text


def test_oversized_login_answer_stops_the_run(cache_dir):
    def respond(seen):
        if seen.method == "POST":
            return 200, {"auth": {"client_token": "tok", "lease_duration": 60}, "padding": "p" * 2_000_000}
        return 200, kv2_body({"k": "v"})
    with Stub(respond) as stub:
        text = fail(two_paths(), vault_env(stub.addr, cache_dir, AVP_AUTH_TYPE="approle", AVP_ROLE_ID="r",
                                           AVP_SECRET_ID="s"))
        assert [s.method for s in stub.seen] == ["POST"]  # one login, no reads, no second login
    assert f"Vault's response to POST /v1/auth/approle/login at {stub.addr} exceeds the 1048576-byte limit" in text
    assert "placeholders not resolved" in text and "pppp" not in text


@pytest.mark.parametrize("body", [
    b"[" * DEEP + b"]" * DEEP,  # the whole answer
    b'{"data": {"data": {"k": ' + b"[" * DEEP + b"]" * DEEP + b"}}}",  # the value read
    b'{"data": {"data": {"k": ' + b"[" * 900 + b"]" * 900 + b"}}}",  # parses, but too deep to print
], ids=["answer", "value", "value-900"])
def test_deeply_nested_answer_is_a_vault_error(body):
    with Stub(lambda seen: (200, body, {"Content-Type": "application/json"})) as stub:
        text = fail(ONE, vault_env(stub.addr, VAULT_TOKEN="t"))
    assert f"Secret/s stringData.x: Vault answered GET /v1/{A} with JSON nested more than 100 levels deep" in text


@pytest.mark.parametrize("stage, message", [
    ("jsonParse", "jsonParse: invalid JSON: nested more than 100 levels deep"),
    ("jsonPath {.a}", "jsonPath: invalid JSON: nested more than 100 levels deep"),
    ("yamlParse", "yamlParse: invalid YAML: nested more than 100 levels deep"),
])
def test_deeply_nested_value_for_a_modifier(stage, message):
    deep = "[" * 5000 + "]" * 5000  # a string value in Vault, parsed by the modifier
    with Stub(lambda seen: (200, kv2_body({"k": deep}))) as stub:
        text = fail([secret("s", string_data={"x": f"<path:{A}#k | {stage}>"})], vault_env(stub.addr, VAULT_TOKEN="t"))
    assert f"{message} for placeholder path:{A}#k" in text


def _cli_resolve(addr: str, **env) -> tuple[subprocess.CompletedProcess, float]:
    """cmp-render --secrets resolve on the example project, as Argo CD's sidecar runs it."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "cmp_plugin", str(EXAMPLES / "shop.yaml"), "--secrets", "resolve"],
                          capture_output=True, text=True, timeout=15, cwd=REPO,
                          env=clean_env(PYTHONPATH=str(REPO), VAULT_ADDR=addr, VAULT_TOKEN="t", **env))
    return proc, time.monotonic() - start


def test_cli_ends_at_the_deadline_when_vault_trickles():
    with Trickle(http_answer(KV2)[:-len(KV2)], KV2, delay=0.1) as vault:
        proc, took = _cli_resolve(vault.addr, CMP_VAULT_TIMEOUT="2")
    assert proc.returncode == 1 and proc.stdout == ""
    assert took < 8  # the budget (2 s) plus start-up, not len(KV2) x 0.1 s
    assert "error: Vault did not answer within the time budget of 2 s (CMP_VAULT_TIMEOUT) for GET /v1/kv/data/shop/" \
           in proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("body, message", [
    (b'{"data": {"data": {"k": "' + b"x" * 2_000_000 + b'"}}}',
     "exceeds the 1048576-byte limit (CMP_VAULT_MAX_RESPONSE_BYTES)"),
    (b"[" * DEEP + b"]" * DEEP, "with JSON nested more than 100 levels deep"),
], ids=["huge", "deep"])
def test_cli_reports_a_bad_answer_as_a_vault_error(body, message):
    with Stub(lambda seen: (200, body, {"Content-Type": "application/json"})) as stub:
        proc, _ = _cli_resolve(stub.addr)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "error: Secret/" in proc.stderr and message in proc.stderr
    assert "internal error" not in proc.stderr and "xxxx" not in proc.stderr
