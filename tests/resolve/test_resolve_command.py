"""`cmp-render resolve`: inputs, where placeholders resolve, path confinement, configuration that
only the sidecar may set, and the failure contract; against a real OpenBao."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from cliutil import REPO, clean_env, run_in_process

TEAM_A = ["--prefix", "kv/data/team-a"]


def resolve(args, env, stdin=""):
    return run_in_process(["resolve", *args], env, stdin)


def docs_of(out: str) -> list:
    return [d for d in yaml.safe_load_all(out) if d]


def doc(kind="ConfigMap", **fields):
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": "x"}, **fields}


def stream(*docs) -> str:
    return "\n".join(json.dumps(d) for d in docs)


# ---- inputs ----------------------------------------------------------------------------------

def test_directories_are_read_in_avps_order(tmp_path, vault):
    """Go's filepath.Walk: depth first, entries sorted by name byte by byte; .yaml, .yml, .json."""
    for rel in ("b.yaml", "a/z.yml", "a.json", "A.yaml", "a/b/c.yaml", "skip.txt", "a-b.yaml", "a_b.yaml"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        d = doc(data={"file": rel})
        path.write_text(json.dumps(d) if rel.endswith(".json") else yaml.safe_dump(d))
    code, out, err = resolve([str(tmp_path)], vault.env())
    assert code == 0, err
    assert [d["data"]["file"] for d in docs_of(out)] == [
        "A.yaml", "a/b/c.yaml", "a/z.yml", "a-b.yaml", "a.json", "a_b.yaml", "b.yaml"]


def test_several_paths_and_stdin_in_order(tmp_path, vault):
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(doc(metadata={"name": "one"})))
    code, out, err = resolve([str(tmp_path / "one.yaml"), "-"], vault.env(), stdin=stream(doc(metadata={"name": "two"})))
    assert code == 0, err
    assert [d["metadata"]["name"] for d in docs_of(out)] == ["one", "two"]


def test_unreadable_inputs_fail_with_every_problem(tmp_path, vault):
    (tmp_path / "bad.yaml").write_text("a: [\n")
    (tmp_path / "list.yaml").write_text("- 1\n")
    (tmp_path / "nokind.yaml").write_text("apiVersion: v1\n")
    os.mkfifo(tmp_path / "fifo.yaml")
    code, out, err = resolve([str(tmp_path), str(tmp_path / "absent")], vault.env())
    assert code == 1 and out == ""
    assert f"{tmp_path}/bad.yaml:2:1: error: error converting YAML to JSON: yaml:" in err
    assert f"{tmp_path}/fifo.yaml: error: cannot read: not a regular file" in err
    assert f"{tmp_path}/list.yaml:1:1: error: document 1 is not a Kubernetes object" in err
    assert f"{tmp_path}/nokind.yaml:1:1: error: Object 'Kind' is missing in document 1" in err
    assert f"no YAML or JSON files were found in {tmp_path}/absent (it does not exist)" in err


def test_no_objects_is_an_error_not_empty_output(vault):
    code, out, err = resolve(["-"], vault.env(), stdin="---\n# nothing\n")
    assert (code, out) == (1, "") and "refusing to print empty output" in err


# ---- where placeholders resolve ---------------------------------------------------------------

def test_any_kind_any_string_field(vault):
    ph = "<path:kv/data/team-a/db#password>"
    docs = [doc("Deployment", spec={"template": {"spec": {"containers": [
                {"name": "c", "env": [{"name": "P", "value": ph}], "args": ["--user=<path:kv/data/team-a/db#user>"]}]}},
                "replicas": "<path:kv/data/team-a/db#port>"}),
            doc("Secret", stringData={"p": ph}, data={"b": "<path:kv/data/team-a/db#password | base64encode>"})]
    code, out, err = resolve([*TEAM_A, "-"], vault.env(), stdin=stream(*docs))
    assert code == 0, err
    dep, sec = docs_of(out)
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["env"][0]["value"] == "pw-Zq8<x>y" and c["args"] == ["--user=app"]
    assert dep["spec"]["replicas"] == 5432  # a number stored in Vault replaces the field, as in AVP
    assert sec["stringData"] == {"p": "pw-Zq8<x>y"} and sec["data"] == {"b": "cHctWnE4PHg+eQ=="}


@pytest.mark.parametrize("text, expected", [
    ("<  password >", "pw-Zq8<x>y"),
    ("< password | base64encode >", "cHctWnE4PHg+eQ=="),
    ("<user>:<password>", "app:pw-Zq8<x>y"),
])
def test_generic_placeholders_with_inner_spaces_resolve_as_in_avp(vault, text, expected):
    d = doc(metadata={"name": "x", "annotations": {"avp.kubernetes.io/path": "kv/data/team-a/db"}}, data={"v": text})
    code, out, err = resolve([*TEAM_A, "-"], vault.env(), stdin=stream(d))
    assert code == 0, err
    assert docs_of(out)[0]["data"]["v"] == expected


@pytest.mark.parametrize("text", ["a < b > c", "<my key>", "<x path:kv/data/team-a/db#user>", "<>"])
def test_anything_avp_would_read_in_an_annotated_document_resolves_or_fails(vault, text):
    d = doc(metadata={"name": "x", "annotations": {"avp.kubernetes.io/path": "kv/data/team-a/db"}}, data={"v": text})
    code, out, err = resolve([*TEAM_A, "-"], vault.env(), stdin=stream(d))
    assert (code, out) == (1, "")
    assert "pw-Zq8" not in err


def test_ignored_documents_and_map_keys(vault):
    ignored = doc(metadata={"name": "i", "annotations": {"avp.kubernetes.io/ignore": "true"}},
                  data={"doc": "write <path:kv/data/x#y> to read a secret"})
    code, out, err = resolve([*TEAM_A, "-"], vault.env(), stdin=stream(ignored))
    assert code == 0 and docs_of(out) == [ignored], err  # AVP prints ignored documents unchanged
    keyed = doc(data={"<path:kv/data/team-a/db#user>": "v"})
    code, out, err = resolve([*TEAM_A, "-"], vault.env(), stdin=stream(keyed))
    assert (code, out) == (1, "") and "in a map key" in err


# ---- path confinement ------------------------------------------------------------------------

def test_without_allowed_prefixes_nothing_is_read(vault):
    d = doc(data={"v": "<path:kv/data/team-a/db#user>"})
    code, out, err = resolve(["-"], vault.env(), stdin=stream(d))
    assert (code, out) == (1, "")
    assert "no Vault path is allowed: allow paths with --prefix PREFIX" in err and "CMP_RESOLVE_PREFIXES" in err
    # documents without placeholders need no configuration at all
    code, out, err = resolve(["-"], {}, stdin=stream(doc(data={"v": "plain"})))
    assert code == 0, err


def test_paths_outside_the_prefixes_are_refused_before_any_request(vault):
    d = doc(data={"a": "<path:kv/data/team-b/db#password>", "b": "<path:kv/data/team-ab/x#k>",
                  "c": "<path:kv/data/team-a#k>", "d": "<path:kv/data/team-a/../team-b/db#password>"})
    env = vault.env(VAULT_TOKEN=vault.bao.root_token)  # even a token that could read them
    code, out, err = resolve([*TEAM_A, "-"], env, stdin=stream(d))
    assert (code, out) == (1, "")
    for path in ("kv/data/team-b/db", "kv/data/team-ab/x", "kv/data/team-a"):
        assert f"the path {path} is outside the allowed prefixes kv/data/team-a/ (--prefix, CMP_RESOLVE_PREFIXES)" in err
    assert "must not contain empty, . or .. segments" in err
    assert "pw-of-team-b" not in err


def test_any_path_is_an_explicit_choice(vault):
    d = doc(data={"v": "<path:kv/data/team-b/db#password>"})
    env = vault.env(VAULT_TOKEN=vault.bao.root_token)
    for args, extra in ((["--any-path"], {}), ([], {"CMP_RESOLVE_ANY_PATH": "true"})):
        code, out, err = resolve([*args, "-"], dict(env, **extra), stdin=stream(d))
        assert code == 0, err
        assert docs_of(out)[0]["data"]["v"] == "pw-of-team-b"


def test_prefix_placeholders_come_from_argo_cds_variables(vault):
    d = doc(data={"v": "<path:kv/data/team-a/db#user>"})
    argo = {"ARGOCD_APP_NAME": "argocd_data", "ARGOCD_APP_PROJECT_NAME": "team-a", "ARGOCD_APP_NAMESPACE": "apps"}
    for prefix in ("kv/data/{project}", "kv/{app}", "kv/data/team-a"):  # {app}: `data`, without `argocd_`
        code, out, err = resolve(["-"], vault.env(CMP_RESOLVE_PREFIXES=prefix, **argo), stdin=stream(d))
        assert code == 0, (prefix, err)
    code, out, err = resolve(["-"], vault.env(CMP_RESOLVE_PREFIXES="kv/data/{namespace}", **argo), stdin=stream(d))
    assert code == 1 and "outside the allowed prefixes kv/data/apps/" in err
    code, out, err = resolve(["--prefix", "kv/data/{project}", "-"], vault.env(), stdin=stream(d))
    assert code == 1 and "uses {project}, but ARGOCD_APP_PROJECT_NAME is empty" in err
    code, out, err = resolve(["--prefix", "kv/data/{team}", "-"], vault.env(), stdin=stream(d))
    assert code == 1 and "unknown placeholder {team}" in err
    code, out, err = resolve(["--prefix", "kv/data/{project}", "-"],
                             vault.env(ARGOCD_APP_PROJECT_NAME="../x"), stdin=stream(d))
    assert code == 1 and "not usable as a path segment" in err


def test_an_application_cannot_loosen_or_redirect_anything(vault, caplog):
    """Argo CD passes an Application's plugin env as ARGOCD_ENV_*: none of these count."""
    d = doc(data={"v": "<path:kv/data/team-b/db#password>"})
    env = vault.env(ARGOCD_ENV_CMP_RESOLVE_ANY_PATH="true", ARGOCD_ENV_CMP_RESOLVE_PREFIXES="kv",
                    ARGOCD_ENV_AVP_PATH_VALIDATION=".*", ARGOCD_ENV_VAULT_ADDR="http://127.0.0.1:9",
                    ARGOCD_ENV_VAULT_TOKEN=vault.bao.root_token, ARGOCD_ENV_AVP_AUTH_TYPE="approle")
    code, out, err = resolve([*TEAM_A, "-"], env, stdin=stream(d))
    assert (code, out) == (1, "") and "outside the allowed prefixes" in err
    code, out, err = resolve(["--prefix", "kv/data", "-"], env, stdin=stream(d))  # the sidecar's token: 403
    assert (code, out) == (1, "") and "Code: 403" in err and vault.bao.root_token not in err


def test_kv_version_remains_a_per_application_choice(vault):
    d = doc(data={"v": "<path:kv/data/team-a/db#user>"})
    code, out, err = resolve([*TEAM_A, "-"], vault.env(ARGOCD_ENV_AVP_KV_VERSION="1"), stdin=stream(d))
    assert code == 1 and out == ""  # read as KV v1: the map is data.data, so the key is missing
    assert "missing Vault value for placeholder path:kv/data/team-a/db#user" in err


def test_path_validation_applies_too(vault):
    d = doc(data={"v": "<path:kv/data/team-a/db#user>"})
    code, out, err = resolve([*TEAM_A, "-"], vault.env(AVP_PATH_VALIDATION=r"^secret/[[:alpha:]]+\z"), stdin=stream(d))
    assert code == 1 and "the path kv/data/team-a/db is disallowed by AVP_PATH_VALIDATION restriction" in err


# ---- failure contract ------------------------------------------------------------------------

def test_failures_print_nothing_on_stdout_and_no_value(vault):
    docs = [doc(data={"ok": "<path:kv/data/team-a/db#password>", "bad": "<path:kv/data/team-a/db#password | jsonParse>"}),
            doc("Secret", data={"raw": "<path:kv/data/team-a/db#password>"})]
    code, out, err = resolve([*TEAM_A, "-"], vault.env(), stdin=stream(*docs))
    assert (code, out) == (1, "")
    assert "jsonParse: invalid JSON" in err and "is not valid base64" in err
    assert "pw-Zq8" not in err


def test_as_a_command(vault, tmp_path):
    """The console script, as a plugin's generate command would run it."""
    (tmp_path / "cm.yaml").write_text(yaml.safe_dump(doc(data={"u": "<path:kv/data/team-a/db#user>"})))
    r = subprocess.run([sys.executable, "-m", "cmp_plugin", "resolve", *TEAM_A, str(tmp_path)], capture_output=True,
                       text=True, env=dict(clean_env(**vault.env()), PYTHONPATH=str(REPO)), timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "apiVersion: v1\ndata:\n  u: app\nkind: ConfigMap\nmetadata:\n  name: x\n---\n"
