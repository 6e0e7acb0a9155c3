"""The harness itself: it must read output, build env and match discovery like Argo CD does."""

from __future__ import annotations

import json

import pytest

import harness


@pytest.mark.parametrize("value,expected", [
    ("-f ../projects/$ARGOCD_APP_NAME.yaml", "-f ../projects/shop.yaml"),
    ("${ARGOCD_APP_NAME}-x", "shop-x"),
    ("$UNKNOWN|${UNKNOWN}|", "||"),
    ("cost: $$5", "cost: $5"),
    ("trailing $", "trailing $"),
    ("${}", ""),  # bad syntax is eaten
    ("${ARGOCD_APP_NAME", "ARGOCD_APP_NAME"),  # "${" eaten, the rest kept
    ("$1 $- $@", "  "),  # shell special names are looked up (and unknown)
    ("a$ b", "a$ b"),  # "$" not followed by a name stays
    ("$ARGOCD_APP_NAMEx", ""),  # the longest name, unknown
])
def test_env_values_expand_like_go_os_expand(value, expected):
    assert harness.argocd_envsubst(value, {"ARGOCD_APP_NAME": "shop"}) == expected


def test_request_env_order_and_param_naming():
    app = {"metadata": {"name": "shop", "namespace": "team-a"},
           "spec": {"project": "p", "destination": {"namespace": "shop"},
                    "source": {"repoURL": "r", "path": "projects", "targetRevision": "HEAD",
                               "plugin": {"name": "x", "env": [{"name": "lower_name", "value": "$ARGOCD_APP_NAME"}],
                                          "parameters": [{"name": "a-b", "string": "1"},
                                                         {"name": "list", "array": ["x", "y"]},
                                                         {"name": "helm.parameters", "map": {"image.tag": "v1"}}]}}}}
    env = harness.request_env(app)
    names = [k for k, _ in env]
    assert names[:3] == ["ARGOCD_APP_NAME", "ARGOCD_APP_NAMESPACE", "ARGOCD_APP_PROJECT_NAME"]
    env = dict(env)
    assert env["ARGOCD_APP_NAME"] == "team-a_shop"
    assert env["ARGOCD_ENV_lower_name"] == "team-a_shop"
    assert json.loads(env["ARGOCD_APP_PARAMETERS"])[0] == {"name": "a-b", "string": "1"}
    assert env["PARAM_A_B"] == "1" and env["PARAM_LIST_0"] == "x" and env["PARAM_LIST_1"] == "y"
    assert env["PARAM_HELM_PARAMETERS_IMAGE_TAG"] == "v1"
    no_plugin = dict(harness.request_env({"metadata": {"name": "a"}, "spec": {"source": {"path": "."}}}))
    assert "ARGOCD_APP_PARAMETERS" not in no_plugin and not any(k.startswith("ARGOCD_ENV_") for k in no_plugin)
    assert no_plugin["ARGOCD_APP_NAMESPACE"] == ""
    empty_block = dict(harness.request_env({"metadata": {"name": "a"}, "spec": {"source": {"plugin": {}}}}))
    assert empty_block["ARGOCD_APP_PARAMETERS"] == "null"


def test_sidecar_env_first_request_vars_win():
    env = harness.merge_env({"PATH": "/bin", "ARGOCD_APP_NAME": "sidecar"}, [("ARGOCD_APP_NAME", "req")])
    assert env == {"PATH": "/bin", "ARGOCD_APP_NAME": "req"}


@pytest.mark.parametrize("text,kinds", [
    (b"kind: A\n---\nkind: B\n", ["A", "B"]),
    (b"---\nkind: A\n--- # comment\n\n---\nnull\n---\nkind: B\n", ["A", "B"]),
    (b'{"kind": "A"}\n{"kind": "B"}\n', ["A", "B"]),
    (b'  {"kind": "List", "items": [{"kind": "A"}, {"kind": "B"}]}', ["A", "B"]),
    (b"kind: List\nitems:\n- kind: A\n", ["A"]),
    (b"", []),
    (b"\n", []),
])
def test_output_is_parsed_like_argocd(text, kinds):
    assert [o["kind"] for o in harness.parse_manifests(text)] == kinds


@pytest.mark.parametrize("text", [b"- kind: A\n", b"metadata: {name: x}\n", b"[1]\n", b"kind: A\n--- junk\n",
                                  b'{"kind": "A"} {', b"kind: [\n"])
def test_bad_output_is_refused_like_argocd(text):
    with pytest.raises(harness.OutputError):
        harness.parse_manifests(text)


def test_discovery_rules(tmp_path):
    h = harness.Harness(tmp_path)
    cwd = tmp_path / "app"
    (cwd / "sub").mkdir(parents=True)
    (cwd / "sub" / "x.cmp").write_text("")
    env = h.base_sidecar_env()

    def plugin(discover):
        return harness.Plugin(tmp_path / "p.yaml", {"metadata": {"name": "p"},
                                                    "spec": {"generate": {"command": ["true"]}, "discover": discover}})

    assert h.matches(plugin(None), cwd, env) == (True, None)
    assert h.matches(plugin({"fileName": "*.cmp"}), cwd, env) == (False, None)
    assert h.matches(plugin({"fileName": "sub/*.cmp"}), cwd, env) == (True, None)
    assert h.matches(plugin({"find": {"glob": "**/*.cmp"}}), cwd, env) == (True, None)
    assert h.matches(plugin({"find": {"command": ["sh", "-c", "echo yes"]}}), cwd, env) == (True, None)
    assert h.matches(plugin({"find": {"command": ["true"]}}), cwd, env) == (False, None)
    ok, err = h.matches(plugin({"find": {"command": ["false"]}}), cwd, env)
    assert not ok and "error running find command" in err


def test_template_evaluation_refuses_what_it_does_not_know():
    with pytest.raises(harness.TemplateError):
        harness.render_template("{{ .path.filename | upper }}", {"path": {"filename": "a"}})
    with pytest.raises(harness.TemplateError):
        harness.render_template("{{ .path.nope }}", {"path": {}})
    assert harness.render_template('{{ .a | trimSuffix ".yaml" }}', {"a": "x.yaml"}) == "x"
    assert harness.normalize("My_Project.YAML") == "my-project.yaml"
