"""No secret value (nor a credential) in stdout, stderr, logs or exception text, whatever fails."""

from __future__ import annotations

import base64
import json
import logging
import secrets as rnd
import subprocess
import sys
import traceback

import pytest

from cmp_plugin.problems import Failure
from vault_docs import run, secret, vault_env


def _value(tag: str) -> str:
    return f"{tag}-{rnd.token_hex(8)}"


@pytest.fixture
def stored(world):
    """Secrets with values that trip every modifier, and the list of strings that must not leak."""
    name = world.unique("leak")
    values = {
        "plain": _value("plainSECRET"),
        "notjson": "{" + _value("jsonSECRET") + " oops",
        "notyaml": "a: [" + _value("yamlSECRET"),
        "notb64": _value("b64SECRET") + "!!",
        "multi": "line1-" + _value("multiSECRET") + "\nline2",
        "json": json.dumps({"inner": _value("innerSECRET")}),
    }
    world.bao.put_kv2("kv", f"shop/{name}", values)
    path = f"kv/data/shop/{name}"
    forbidden = [v for v in values.values()] + [json.loads(values["json"])["inner"]]
    forbidden += [v.split("-", 1)[1] for v in values.values() if "-" in v]  # the random parts alone
    forbidden += [base64.b64encode(v.encode()).decode() for v in values.values()]
    forbidden += [world.shop_secret_id, world.shop_secret_id[::-1], world.shop_token, world.root]
    return path, forbidden


def scenarios(world, proxy_addr, path, cache_dir, jwt_file):
    ok_env = vault_env(proxy_addr, cache_dir, AVP_AUTH_TYPE="approle", AVP_ROLE_ID=world.shop_role_id,
                       AVP_SECRET_ID=world.shop_secret_id)
    yield "success", [secret("s", string_data={"a": f"<path:{path}#plain>", "b": f"<path:{path}#json | jsonPath {{.inner}}>"},
                             data={"c": f"<path:{path}#multi | base64encode>"})], ok_env
    yield "modifier errors", [secret("s", string_data={
        "a": f"<path:{path}#notjson | jsonParse>", "b": f"<path:{path}#notyaml | yamlParse>",
        "c": f"<path:{path}#notb64 | base64decode>", "d": f"<path:{path}#json | jsonPath {{.nope}}>",
        "e": f"<path:{path}#plain | jsonPath {{.x}}>", "f": f"<path:{path}#json | jsonParse | sha256sum>"})], ok_env
    yield "missing key next to values", [secret("s", string_data={"a": f"<path:{path}#absent>",
                                                                  "b": f"x <path:{path}#plain> <path:{path}#nope>"})], ok_env
    yield "data not base64", [secret("s", data={"a": f"<path:{path}#plain>"})], ok_env
    yield "generic", [secret("g", string_data={"a": "<plain>", "b": "<missing>", "c": "<notjson | jsonParse>"},
                             annotations={"avp.kubernetes.io/path": path})], ok_env
    yield "forbidden", [secret("s", string_data={"a": f"<path:{path}#plain>"})], \
        vault_env(proxy_addr, VAULT_TOKEN=world.no_policy_token)
    yield "bad secret id", [secret("s", string_data={"a": f"<path:{path}#plain>"})], \
        vault_env(proxy_addr, cache_dir + "-2", AVP_AUTH_TYPE="approle", AVP_ROLE_ID=world.shop_role_id,
                  AVP_SECRET_ID=world.shop_secret_id[::-1])
    yield "kubernetes", [secret("s", string_data={"a": f"<path:{path}#plain>"})], \
        vault_env(proxy_addr, cache_dir + "-3", AVP_AUTH_TYPE="k8s", AVP_K8S_ROLE="other", AVP_K8S_TOKEN_PATH=jwt_file)


def test_nothing_leaks(world, proxy, stored, cache_dir, jwt_file, capfd, caplog):
    path, forbidden = stored
    forbidden.append(open(jwt_file).read().strip())
    caplog.set_level(logging.DEBUG)  # every logger: ours, hvac's, urllib3's
    texts = []
    outcomes = []
    for label, docs, env in scenarios(world, proxy.addr, path, cache_dir, jwt_file):
        try:
            out = run(docs, env)
            outcomes.append((label, "ok"))
            assert json.dumps(out)  # the values are in the output, and only there
        except Failure as exc:
            outcomes.append((label, "failed"))
            texts += [str(exc), repr(exc), repr(exc.problems), "".join(traceback.format_exception(exc))]
    captured = capfd.readouterr()
    texts += [captured.out, captured.err, caplog.text] + [repr(r.__dict__) for r in caplog.records]
    assert outcomes == [("success", "ok"), ("modifier errors", "failed"), ("missing key next to values", "failed"),
                        ("data not base64", "failed"), ("generic", "failed"), ("forbidden", "failed"),
                        ("bad secret id", "failed"), ("kubernetes", "failed")]
    assert "jsonParse: invalid JSON" in "".join(texts)  # the failures were reported...
    for text in texts:
        for value in forbidden:
            assert value not in text  # ...without any secret in them


def test_nothing_leaks_from_a_real_process(world, stored, tmp_path):
    """A separate Python process with DEBUG logging to stderr and the Failure printed."""
    path, forbidden = stored
    script = tmp_path / "run.py"
    script.write_text(
        "import json, logging, sys\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n"
        "from cmp_plugin.problems import Failure\n"
        "from cmp_plugin.secrets import resolve_documents\n"
        "docs, env = json.load(sys.stdin)\n"
        "try:\n"
        "    out = resolve_documents(docs, project='shop', prefix='kv/data/shop', env=env)\n"
        "    print('resolved', len(out))\n"
        "except Failure as exc:\n"
        "    print(exc, file=sys.stderr)\n"
        "    raise\n")
    docs = [secret("s", string_data={"ok": f"<path:{path}#plain>", "bad": f"<path:{path}#notjson | jsonParse>",
                                     "gone": f"<path:{path}#absent>"})]
    env = vault_env(world.addr, str(tmp_path / "cache"), AVP_AUTH_TYPE="approle", AVP_ROLE_ID=world.shop_role_id,
                    AVP_SECRET_ID=world.shop_secret_id, NO_PROXY="127.0.0.1")
    proc = subprocess.run([sys.executable, str(script)], input=json.dumps([docs, env]), capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1",
                                                      "PYTHONPATH": ":".join(sys.path)})
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "jsonParse: invalid JSON" in proc.stderr
    assert "urllib3" in proc.stderr or "connectionpool" in proc.stderr  # debug logging was on
    for value in forbidden:
        assert value not in proc.stdout and value not in proc.stderr
