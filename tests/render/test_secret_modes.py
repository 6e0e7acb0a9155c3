"""Secrets modes: `external-secrets` and `vault-secrets-operator` render operator objects in place of
the Secrets, keep every name, type and key that workloads refer to, and hold no secret and no
placeholder; `inline` with `secrets_keep_on_removal` prepares the move."""

from __future__ import annotations

import re
from urllib.parse import quote_plus, unquote, urlsplit

import pytest
import yaml

from cmp_plugin.check import check
from cmp_plugin.pipeline import render_file

from ._support import EXAMPLE_FILES, all_object_errors, docs_of, integrity_problems, require_shared, settings_for

MODES = {
    "external-secrets": {"CMP_SECRETS_MODE": "external-secrets"},
    "external-secrets-v1beta1": {"CMP_SECRETS_MODE": "external-secrets", "CMP_EXTERNAL_SECRETS_API_VERSION": "v1beta1"},
    "external-secrets-no-reload": {"CMP_SECRETS_MODE": "external-secrets", "CMP_SECRETS_RELOAD": "none"},
    "vault-secrets-operator": {"CMP_SECRETS_MODE": "vault-secrets-operator"},
    "vault-secrets-operator-default-connection": {"CMP_SECRETS_MODE": "vault-secrets-operator",
                                                  "CMP_SECRETS_VAULT_ADDRESS": ""},
}
CASES = [(mode, example) for mode in MODES for example in EXAMPLE_FILES]


def render(example, env: dict) -> tuple[str, list[dict]]:
    text = render_file(str(example), settings=settings_for(env), env={})
    return text, docs_of(text)


def by_kind(docs, kind) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.mark.parametrize("mode,example", CASES, ids=[f"{m}-{e.stem}" for m, e in CASES])
def test_operator_output_is_whole_and_holds_no_secret(mode, example):
    text, docs = render(example, MODES[mode])
    assert "<path:" not in text
    assert by_kind(docs, "Secret") == {}, "no Secret is rendered: the operator writes them"
    assert integrity_problems(docs, yaml.safe_load(example.read_text())) == []
    require_shared()
    assert all_object_errors(docs) == []


@pytest.mark.parametrize("mode,example", CASES, ids=[f"{m}-{e.stem}" for m, e in CASES])
def test_the_operator_writes_the_secrets_inline_mode_renders(mode, example):
    """Same name, type and keys: nothing that refers to a Secret changes between modes."""
    from render._support import operator_secret

    _, inline = render(example, {})
    _, docs = render(example, MODES[mode])
    expected = {name: (d.get("type", "Opaque"), set(d["stringData"])) for name, d in by_kind(inline, "Secret").items()}
    written = {}
    for doc in docs:
        secret = operator_secret(doc)
        if secret is not None:
            written[secret["metadata"]["name"]] = (secret["type"], set(secret["stringData"]))
    assert written == expected
    # everything else is the same object, but for the annotations that restart workloads
    strip = lambda d: {**d, "metadata": {k: v for k, v in d["metadata"].items() if k != "annotations"}}  # noqa: E731
    ours = lambda d: d["kind"] in OPERATOR_KINDS or (d["kind"], d["metadata"]["name"]) == (  # noqa: E731
        "ServiceAccount", example.stem + "-secrets")
    rest = lambda ds: sorted((strip(d) for d in ds if d["kind"] != "Secret" and not ours(d)),  # noqa: E731
                             key=lambda d: (d["kind"], d["metadata"]["name"]))
    assert rest(docs) == rest(inline)


OPERATOR_KINDS = {"ExternalSecret", "SecretStore", "VaultStaticSecret", "VaultAuth", "VaultConnection"}


def _uses(doc: dict) -> set[str]:
    pod = doc["spec"]["template"]["spec"]
    names = {e["valueFrom"]["secretKeyRef"]["name"] for c in pod["containers"] for e in c.get("env") or []
             if "secretKeyRef" in (e.get("valueFrom") or {})}
    names |= {f["secretRef"]["name"] for c in pod["containers"] for f in c.get("envFrom") or [] if "secretRef" in f}
    return names


def test_external_secrets_restart_workloads_through_reloader():
    example = next(e for e in EXAMPLE_FILES if e.stem == "blog")
    _, docs = render(example, MODES["external-secrets"])
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            annotation = (doc["metadata"].get("annotations") or {}).get("secret.reloader.stakater.com/reload")
            assert sorted((annotation or "").split(",")) == sorted(_uses(doc)) or (not annotation and not _uses(doc))
    _, quiet = render(example, MODES["external-secrets-no-reload"])
    assert "secret.reloader.stakater.com" not in str(quiet)


def test_vault_secrets_operator_restarts_exactly_the_users():
    example = next(e for e in EXAMPLE_FILES if e.stem == "blog")
    _, docs = render(example, MODES["vault-secrets-operator"])
    users: dict[str, set] = {}
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            for name in _uses(doc):
                users.setdefault(name, set()).add((doc["kind"], doc["metadata"]["name"]))
    for name, vss in by_kind(docs, "VaultStaticSecret").items():
        targets = {(t["kind"], t["name"]) for t in vss["spec"].get("rolloutRestartTargets", [])}
        assert targets == users.get(name, set()), name
    assert not any(t["kind"] in ("Job", "CronJob") for v in by_kind(docs, "VaultStaticSecret").values()
                   for t in v["spec"].get("rolloutRestartTargets", []))


def _go_template(text: str, values: dict[str, str]) -> str:
    """The template subset the modes emit, as Go's text/template with sprig evaluates it:
    `{{ index . "k" | urlquery | replace "+" "%20" }}`, `{{ get .Secrets "k" ... }}`, `{{ "{{" }}`."""
    def action(match):
        body = match.group(1).strip()
        if body == '"{{"':
            return "{{"
        stages = [s.strip() for s in body.split("|")]
        head = re.fullmatch(r'(?:index \.|get \.Secrets) "((?:[^"\\]|\\.)*)"', stages[0])
        assert head, body
        value = values[head.group(1)]
        for stage in stages[1:]:
            if stage == "urlquery":
                value = quote_plus(value, safe="")  # Go's url.QueryEscape: the same unreserved set
            else:
                assert stage == 'replace "+" "%20"', stage
                value = value.replace("+", "%20")
        return value
    return re.sub(r"\{\{(.*?)\}\}", action, text)


PASSWORDS = ["p@ss:w/rd%20#frag?q=1", "sp ace+plus", "ünï©ødé", "%%", "{{ .x }}", "a]b[c"]


@pytest.mark.parametrize("mode", ["external-secrets", "vault-secrets-operator"])
def test_connection_urls_are_built_by_the_operator(mode, tmp_path):
    example = next(e for e in EXAMPLE_FILES if e.stem == "blog")
    _, docs = render(example, MODES[mode])
    kind = "ExternalSecret" if mode == "external-secrets" else "VaultStaticSecret"
    obj = by_kind(docs, kind)["blog-db-secret"]
    if kind == "ExternalSecret":
        template = obj["spec"]["target"]["template"]["data"]["url"]
    else:
        template = obj["spec"]["destination"]["transformation"]["templates"]["url"]["text"]
    for password in PASSWORDS:
        url = urlsplit(_go_template(template, {"password": password}))
        assert (url.scheme, url.username, url.hostname, url.port, url.path) == ("postgresql", "blog", "db", 5432, "/blog")
        assert unquote(url.password) == password


def test_check_follows_the_secrets_an_operator_writes():
    example = next(e for e in EXAMPLE_FILES if e.stem == "blog")
    for mode in ("external-secrets", "vault-secrets-operator"):
        _, docs = render(example, MODES[mode])
        assert check(docs, vault_prefix="kv/data/blog", resolved=True) == []
        kind = "ExternalSecret" if mode == "external-secrets" else "VaultStaticSecret"
        missing = [d for d in docs if not (d["kind"] == kind and d["metadata"]["name"] == "blog-db-secret")]
        messages = [p.message for p in check(missing, vault_prefix="kv/data/blog", resolved=True)]
        assert any("refers to key 'url' of Secret 'blog-db-secret'" in m or "Secret 'blog-db-secret'" in m for m in messages)
        assert integrity_problems(missing, yaml.safe_load(example.read_text())) != []


def test_keep_on_removal_marks_only_the_vault_secrets():
    example = next(e for e in EXAMPLE_FILES if e.stem == "blog")
    _, plain = render(example, {})
    _, marked = render(example, {"CMP_SECRETS_KEEP_ON_REMOVAL": "true"})
    for before, after in zip(plain, marked):
        if before["kind"] == "Secret":
            assert after["metadata"]["annotations"] == {"argocd.argoproj.io/sync-options": "Prune=false"}
            assert {**after, "metadata": before["metadata"]} == before
        else:
            assert after == before


def test_operator_modes_do_not_read_vault(tmp_path):
    example = next(e for e in EXAMPLE_FILES if e.stem == "blog")
    env = {"VAULT_ADDR": "http://127.0.0.1:9", "AVP_AUTH_TYPE": "token", "VAULT_TOKEN": "x", "CMP_VAULT_TIMEOUT": "1"}
    for mode in ("external-secrets", "vault-secrets-operator"):
        text = render_file(str(example), settings=settings_for(MODES[mode]), secrets="resolve", env=env)
        assert "<path:" not in text


def test_the_operator_logs_in_as_the_role_setup_project_creates():
    """manifests/vault/setup-project.sh with OPERATOR=1: role cmp-<p>-secrets for ServiceAccount <p>-secrets."""
    example = next(e for e in EXAMPLE_FILES if e.stem == "blog")
    _, eso = render(example, MODES["external-secrets"])
    auth = by_kind(eso, "SecretStore")["blog-vault"]["spec"]["provider"]["vault"]["auth"]["kubernetes"]
    assert (auth["role"], auth["serviceAccountRef"]["name"], auth["serviceAccountRef"]["audiences"]) == (
        "cmp-blog-secrets", "blog-secrets", ["vault"])
    _, vso = render(example, MODES["vault-secrets-operator"])
    auth = by_kind(vso, "VaultAuth")["blog-vault"]["spec"]["kubernetes"]
    assert (auth["role"], auth["serviceAccount"], auth["audiences"]) == ("cmp-blog-secrets", "blog-secrets", ["vault"])
    assert by_kind(eso, "ServiceAccount")["blog-secrets"]["automountServiceAccountToken"] is False
