"""Regressions of an adversarial audit: Kubernetes `$(VAR)` expansion in platform-owned containers,
and placeholders hidden in lists."""

from __future__ import annotations

import pytest

from cmp_plugin.check import check
from cmp_plugin.pipeline import render_file, validate_text
from cmp_plugin.render import k8s_literal

from ._support import app, docs_of, project_text, settings_for, write_project


def _expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion of a container's command, args and env (third_party/forked/golang/expansion)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2:end]
                    out.append(env.get(name, text[i:end + 1]))
                    i = end + 1
                    continue
        out.append(text[i])
        i += 1
    return "".join(out)


@pytest.mark.parametrize("value", ["$(GIT_PASSWORD)", "$$(GIT_PASSWORD)", "a$(GIT_USERNAME)b", "$$$(GITHUB_TOKEN)",
                                   "$", "$$", "cost: $5", "$(", "x)$"])
def test_k8s_literal_survives_expansion(value):
    env = {"GIT_PASSWORD": "TOKEN", "GIT_USERNAME": "USER", "GITHUB_TOKEN": "TOKEN"}
    assert _expand(k8s_literal(value), env) == value


def _platform_containers(docs):
    for doc in docs:
        if doc["kind"] == "WorkflowTemplate":
            for template in doc["spec"]["templates"]:
                if "container" in template:
                    yield template["container"]


def test_build_arg_cannot_read_the_github_token(tmp_path):
    args = {"T": "$(GIT_PASSWORD)", "U": "$(GITHUB_TOKEN)", "V": "x$(GIT_USERNAME)", "W": "$$(GIT_PASSWORD)"}
    path = write_project(tmp_path, "p", project_text([app("api", build={"args": args})]))
    docs = docs_of(render_file(str(path), settings=settings_for({})))
    env = {"GIT_PASSWORD": "SECRET-TOKEN", "GIT_USERNAME": "SECRET-USER", "GITHUB_TOKEN": "SECRET-TOKEN"}
    seen = []
    for container in _platform_containers(docs):
        for item in container.get("command", []) + container.get("args", []):
            expanded = _expand(item, env)
            if "--build-arg=" in item:
                seen.append(expanded)
            # only the platform's own Authorization header may expand the token
            if "SECRET" in expanded:
                assert item == "Authorization: Bearer $(GITHUB_TOKEN)", item
    assert sorted(seen) == sorted(f"--build-arg={k}={v}" for k, v in args.items())


def test_placeholder_in_a_build_arg_is_refused_with_its_position(tmp_path):
    text = project_text([app("api", build={"args": {"T": "<path:kv/data/other/ci/github#token>"}})])
    problems = validate_text(text, "p.yaml")
    assert [p.path for p in problems] == ["applications[0].build.args.T"]
    assert "'<path:' Vault placeholder" in problems[0].message


def _workflow_with_arg(value: str) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate", "metadata": {"name": "wt", "namespace": "p"},
            "spec": {"templates": [{"name": "b", "container": {"image": "x", "args": ["--a", value]}}]}}


def test_check_finds_placeholders_inside_lists():
    """The last gate, whatever a template emits: a placeholder in a list item is found."""
    doc = _workflow_with_arg("<path:kv/data/other/ci/github#token>")
    messages = [p.message for p in check([doc], vault_prefix="kv/data/p", resolved=False)]
    assert messages == [
        "check: WorkflowTemplate 'wt' spec.templates.0.container.args.1: Vault placeholders are only allowed in Secret"
        " objects (the values of data and stringData)",
        "check: WorkflowTemplate 'wt' spec.templates.0.container.args.1: Vault path 'kv/data/other/ci/github' is outside"
        " the project's prefix 'kv/data/p'/",
    ]
    unresolved = [p.message for p in check([doc], vault_prefix="kv/data/p", resolved=True)]
    assert unresolved == ["check: WorkflowTemplate 'wt' spec.templates.0.container.args.1 still holds an unresolved"
                          " Vault placeholder"]


def test_check_allows_placeholders_only_as_secret_values():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "p",
                                                                 "annotations": {"a": "<path:kv/data/p/x#k>"}},
              "stringData": {"ok": "<path:kv/data/p/x#k>", "<path:kv/data/p/x#k>": "key"}}
    messages = [p.message for p in check([secret], vault_prefix="kv/data/p", resolved=False)]
    assert len(messages) == 2
    assert all("only allowed in Secret objects" in m for m in messages)
    assert "metadata.annotations.a" in messages[0] and "stringData:" in messages[1]
