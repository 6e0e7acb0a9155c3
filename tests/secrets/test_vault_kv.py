"""KV v1 and v2 reads against a real OpenBao, as AVP does them: annotations, versions,
Secret base64 rules, typed values, modifiers on real values, and AVP's error wording."""

from __future__ import annotations

import base64

import pytest

from vault_docs import b64, fail, run, secret, vault_env


@pytest.fixture
def kv(world):
    """A fresh secret path under kv/shop/ with three versions of `password`."""
    name = world.unique("db")
    bao = world.bao
    bao.put_kv2("kv", f"shop/{name}", {"password": "pw-one", "user": "app"})
    bao.put_kv2("kv", f"shop/{name}", {"password": "pw-two", "user": "app"})
    bao.api("POST", f"kv/data/shop/{name}", {"data": {
        "password": "pw-three", "user": "app", "empty": "", "nothing": None, "port": 5432, "big": 10000000,
        "on": True, "cfg": {"hosts": ["a", "b"], "n": 1000000}, "json": '{"a": {"b": "deep"}, "n": 1000000}',
        "cert": "-----BEGIN-----\n  indented\n\nlast\n", "b64": b64("already encoded")}})
    return f"kv/data/shop/{name}"


@pytest.fixture
def env(world, proxy):
    return vault_env(proxy.addr, VAULT_TOKEN=world.shop_token)


def test_kv2_latest_and_versions(kv, env, proxy):
    doc = secret("s", string_data={"latest": f"<path:{kv}#password>", "v1": f"<path:{kv}#password#1>",
                                   "v2": f"<path:{kv}#password#2>",
                                   "both": f"{'<path:' + kv + '#user>'}:<path:{kv}#password>@db"})
    (out,) = run([doc], env)
    assert out["stringData"] == {"latest": "pw-three", "v1": "pw-one", "v2": "pw-two", "both": "app:pw-three@db"}
    # one GET per distinct (path, version); the path is read verbatim, the version as ?version=N
    assert sorted((s.path, s.query.get("version", "")) for s in proxy.reads()) == \
        [(f"/v1/{kv}", ""), (f"/v1/{kv}", "1"), (f"/v1/{kv}", "2")]
    assert doc["stringData"]["latest"] == f"<path:{kv}#password>"  # input untouched


def test_one_read_per_path_for_many_placeholders(kv, env, proxy):
    docs = [secret(f"s{i}", string_data={f"k{j}": f"<path:{kv}#password>" for j in range(5)}) for i in range(4)]
    out = run(docs, env)
    assert all(v == "pw-three" for d in out for v in d["stringData"].values())
    assert len(proxy.reads()) == 1 and proxy.logins() == []


def test_values_empty_null_and_missing(kv, env):
    (out,) = run([secret("s", string_data={"e": f"<path:{kv}#empty>"})], env)
    assert out["stringData"]["e"] == ""
    for key in ("nothing", "absent"):
        text = fail([secret("s", string_data={"x": f"pre-<path:{kv}#{key}>"})], env)
        assert (f"replaceString: missing Vault value for placeholder path:{kv}#{key} in string x:"
                f" pre-<path:{kv}#{key}>") in text


def test_typed_values_in_a_secret_become_text_in_place(kv, env):
    (out,) = run([secret("s", string_data={
        "port": f"<path:{kv}#port>", "url": f"db:<path:{kv}#port>/x", "big": f"<path:{kv}#big>",
        "on": f"<path:{kv}#on>", "cfg": f"<path:{kv}#cfg>", "parsed": f"<path:{kv}#json | jsonParse>"})], env)
    assert out["stringData"] == {"port": "5432", "url": "db:5432/x", "big": "10000000", "on": "true",
                                 "cfg": '{"hosts":["a","b"],"n":1000000}', "parsed": '{"a":{"b":"deep"},"n":1000000}'}


def test_typed_values_elsewhere_follow_avp(kv, env):
    """With secrets_only=False (not what the renderer uses) AVP's rules for other kinds apply."""
    docs = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {
                "replicas": f"<path:{kv}#port>", "mixed": f"x-<path:{kv}#port>-y", "on": f"<path:{kv}#on>",
                "obj": f"<path:{kv}#json | jsonParse>", "n": f"<path:{kv}#json | jsonPath {{.n}}>",
                "args": ["--p=<path:" + kv + "#password>", ["nested <path:" + kv + "#user>"]]}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {
                "port": f"<path:{kv}#port>", "obj": f"a=<path:{kv}#json | jsonParse>"}}]
    dep, cm = run(docs, env, secrets_only=False)
    assert dep["spec"] == {"replicas": 5432, "mixed": 5432, "on": True, "obj": {"a": {"b": "deep"}, "n": 1000000},
                           "n": "1e+06", "args": ["--p=pw-three", ["nested app"]]}
    assert cm["data"] == {"port": "5432", "obj": 'a={"a":{"b":"deep"},"n":1000000}'}


def test_modifiers_on_real_values(kv, env):
    (out,) = run([secret("s", data={"pw": f"<path:{kv}#password | base64encode>", "raw": f"<path:{kv}#b64>"},
                         string_data={"deep": f"<path:{kv}#json | jsonPath {{.a.b}}>",
                                      "sum": f"<path:{kv}#password | sha256sum>",
                                      "plain": f"<path:{kv}#b64 | base64decode>",
                                      "file": f"cert: |\n  <path:{kv}#cert | indent 2>"})], env)
    assert out["data"] == {"pw": b64("pw-three"), "raw": b64("already encoded")}
    assert out["stringData"]["deep"] == "deep"
    assert out["stringData"]["plain"] == "already encoded"
    assert len(out["stringData"]["sum"]) == 64
    assert out["stringData"]["file"] == "cert: |\n  -----BEGIN-----\n    indented\n\n  last\n"


def test_modifier_errors_on_real_values_name_key_not_value(kv, env):
    text = fail([secret("s", string_data={"a": f"<path:{kv}#password | jsonParse>",
                                          "b": f"<path:{kv}#password | base64decode>"})], env)
    assert f"jsonParse: invalid JSON: Expecting value at line 1 column 1 for placeholder path:{kv}#password" in text
    assert f"base64decode: invalid base64 input for placeholder path:{kv}#password in string b:" in text
    assert "pw-three" not in text


def test_secret_base64_rules(kv, env):
    (out,) = run([secret("s", data={
        "enc": b64(f"user=<path:{kv}#user>\npass=<path:{kv}#password>\n"),  # helm b64enc / kustomize
        "num": b64(f"<path:{kv}#port>"),
        "keep": b64("no placeholders, <b>html</b>"),
    }, string_data={"raw": f"<path:{kv}#password>", "enc2": b64(f"<path:{kv}#user>")})], env)
    assert base64.b64decode(out["data"]["enc"]).decode() == "user=app\npass=pw-three\n"
    assert base64.b64decode(out["data"]["num"]).decode() == "5432"
    assert out["data"]["keep"] == b64("no placeholders, <b>html</b>")
    assert out["stringData"] == {"raw": "pw-three", "enc2": b64("app")}  # AVP: any string field of a Secret


def test_bare_placeholder_under_data_must_be_base64(kv, env):
    text = fail([secret("s", data={"pw": f"<path:{kv}#password>"})], env)
    assert "the value resolved for data.pw is not valid base64" in text and "pw-three" not in text


def test_generic_placeholders_and_annotations(world, kv, env, proxy):
    ann = {"avp.kubernetes.io/path": kv}
    docs = [secret("g", string_data={"p": "<password>", "u": "< user | base64encode >", "t": "a < user > c",
                                     "i": f"<path:{kv}#password#1>"}, annotations=ann),
            secret("v", string_data={"p": "<password>", "i": f"<path:{kv}#password>"},
                   annotations=dict(ann, **{"avp.kubernetes.io/secret-version": "2"})),
            secret("none", string_data={"x": "no generic placeholders"}, annotations=ann)]
    g, v, none = run(docs, env)
    assert g["stringData"] == {"p": "pw-three", "u": b64("app"), "t": "a app c", "i": "pw-one"}
    # secret-version is for the annotation path only, never for inline placeholders
    assert v["stringData"] == {"p": "pw-two", "i": "pw-three"}
    assert g["metadata"]["annotations"] == ann  # annotations stay, as with AVP
    # the annotated document without generic placeholders costs no read
    assert sorted(s.query.get("version", "") for s in proxy.reads()) == ["", "1", "2"]


def test_generic_missing_key(kv, env):
    text = fail([secret("g", string_data={"p": "<nope>"}, annotations={"avp.kubernetes.io/path": kv})], env)
    assert "replaceString: missing Vault value for placeholder nope in string p: <nope>" in text


def test_remove_missing(kv, env):
    ann = {"avp.kubernetes.io/path": kv, "avp.kubernetes.io/remove-missing": "true"}
    (out,) = run([secret("r", string_data={"keep": "<password>", "gone": "<nope>", "gone2": f"<path:{kv}#nope>",
                                           "plain": "x"}, annotations=ann)], env)
    assert out["stringData"] == {"keep": "pw-three", "plain": "x"}
    # a missing path is still an error
    text = fail([secret("r", string_data={"a": f"<path:{kv}-absent#k>"}, annotations=ann)], env)
    assert f"Could not find secrets at path {kv}-absent" in text
    # so is a list item (only map entries can be removed)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "annotations": ann},
          "data": {"a": "<password>"}, "extra": {"list": ["<nope>"]}}
    assert "missing Vault value for placeholder nope" in fail([cm], env, secrets_only=False)


def test_kv1_mount(world, env, proxy):
    name = world.unique("legacy")
    world.bao.put_kv1("kv1", f"shop/{name}", {"k": "v1-value", "n": "2"})
    path = f"kv1/shop/{name}"
    ann = {"avp.kubernetes.io/kv-version": "1"}
    (out,) = run([secret("s", string_data={"a": f"<path:{path}#k>", "b": f"<path:{path}#n#7>"}, annotations=ann)],
                 env, prefix="kv1/shop")
    assert out["stringData"] == {"a": "v1-value", "b": "2"}
    assert [(s.path, s.query) for s in proxy.reads()] == [(f"/v1/{path}", {})]  # version ignored on KV v1
    proxy.clear()
    (out,) = run([secret("s", string_data={"a": f"<path:{path}#k>"})], dict(env, AVP_KV_VERSION="1"), prefix="kv1/shop")
    assert out["stringData"] == {"a": "v1-value"}
    proxy.clear()
    (out,) = run([secret("s", string_data={"a": "<k>"}, annotations=dict(ann, **{"avp.kubernetes.io/path": path}))],
                 dict(env, ARGOCD_ENV_AVP_KV_VERSION="1"), prefix="kv1/shop")
    assert out["stringData"] == {"a": "v1-value"}


def test_kv1_read_as_kv2(world, env):
    name = world.unique("legacy")
    world.bao.put_kv1("kv1", f"shop/{name}", {"k": "v"})
    text = fail([secret("s", string_data={"a": f"<path:kv1/shop/{name}#k>"})], env, prefix="kv1/shop")
    assert "Could not get data from Vault, check that kv-v2 is the correct engine" in text


def test_kv2_without_data_segment(world, kv):
    env = vault_env(world.addr, VAULT_TOKEN=world.root)
    path = kv.replace("kv/data/", "kv/")
    text = fail([secret("s", string_data={"a": f"<path:{path}#password>"})], env, prefix="kv/shop")
    assert f"The Vault path: {path} is empty - did you forget to include /data/ in the Vault path for kv-v2?" in text


def test_not_found(kv, env):
    text = fail([secret("s", string_data={"a": f"<path:{kv}-absent#k>", "b": f"<path:{kv}#password#99>"})], env)
    assert f"Secret/s stringData.a: Could not find secrets at path {kv}-absent (placeholder path:{kv}-absent#k)" in text
    assert f"Could not find secrets at path {kv} with version 99 (placeholder path:{kv}#password#99)" in text


def test_deleted_and_destroyed_versions(world, kv, env):
    mount_path = kv.replace("kv/data/", "")
    world.bao.api("POST", f"kv/delete/{mount_path}", {"versions": [1]})
    world.bao.api("PUT", f"kv/destroy/{mount_path}", {"versions": [2]})
    text = fail([secret("s", string_data={"a": f"<path:{kv}#password#1>", "b": f"<path:{kv}#password#2>"})], env)
    assert f"The secret version 1 for Vault path {kv} is nil - is this version of the secret deleted?" in text
    assert f"The secret version 2 for Vault path {kv} is nil - is this version of the secret deleted?" in text
    world.bao.api("DELETE", kv)  # soft-delete the latest version
    text = fail([secret("s", string_data={"a": f"<path:{kv}#password>"})], env)
    assert f"The secret version (latest) for Vault path {kv} is nil - is this version of the secret deleted?" in text


def test_values_are_not_resolved_again(world, env):
    name = world.unique("nested")
    world.bao.put_kv2("kv", f"shop/{name}", {"tricky": "x<path:kv/data/shop/other#k>y-SECRETPART"})
    text = fail([secret("s", string_data={"a": f"<path:kv/data/shop/{name}#tricky>"})], env)
    assert "Secret/s stringData.a: the resolved value looks like a placeholder itself" in text
    assert "SECRETPART" not in text and "shop/other" not in text


def test_problems_are_grouped_by_document(kv, env):
    docs = [secret("a", string_data={"x": f"<path:{kv}#nope1>"}),
            secret("b", string_data={"x": f"<path:{kv}#nope2>"}),
            secret("a2", string_data={"x": f"<path:{kv}#nope3>"})]
    lines = fail(docs, env).splitlines()
    assert [ln.split(":")[1].strip() for ln in lines] == ["Secret/a", "Secret/a stringData.x", "Secret/b",
                                                          "Secret/b stringData.x", "Secret/a2", "Secret/a2 stringData.x"]
