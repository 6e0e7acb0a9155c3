"""argocd-vault-plugin's `generate` tests, run through `cmp-render resolve` against a real OpenBao.

Ported from github.com/argoproj-labs/argocd-vault-plugin at commit b046a7d: cmd/generate_test.go
(TestMain's nine t.Run cases), with its fixtures/input and fixtures/output copied unchanged into
tests/avp/fixtures/. Where our result differs on purpose the case is in
avp_support.DIFFERENCES and docs/secrets.md, and the test asserts our behaviour.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from avp_support import DIFFERENCES, FIXTURES, PREFIXES, fixture, resolve

INPUT = FIXTURES / "input"


def test_will_throw_an_error_expecting_arguments(avp_env):
    r = resolve([], avp_env)
    assert r.code != 0 and r.out == ""
    assert "<path> argument required to generate manifests" in r.err


def test_will_return_that_couldnt_find_yamls(avp_env, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # AVP's test runs in cmd/, where ./fixtures does not exist
    r = resolve(["./fixtures/input/empty/", *PREFIXES], avp_env)
    assert r.code != 0 and r.out == ""
    assert "no YAML or JSON files were found in ./fixtures/input/empty/" in r.err
    (tmp_path / "only.txt").write_text("kind: Secret\n")  # an existing directory without YAML or JSON
    r = resolve([str(tmp_path), *PREFIXES], avp_env)
    assert r.code == 1 and f"no YAML or JSON files were found in {tmp_path}" in r.err


def test_returns_error_for_empty_manifests(avp_env):
    """AVP prints nothing and exits 0 (its test only checks stderr contains ""). We refuse: Argo CD
    reads empty output as "delete every object"."""
    assert "generate/returns error for empty manifests" in DIFFERENCES
    for args, stdin in (([str(INPUT / "empty" / "file.yaml")], None), (["-"], fixture("input/empty/file.yaml"))):
        r = resolve([*args, *PREFIXES], avp_env, stdin=stdin)
        assert r.code == 1 and r.out == ""
        assert "no Kubernetes objects in the input; refusing to print empty output" in r.err


# The three documents of fixtures/input/nonempty whose Secret `data` AVP fills with text that is not
# base64 (the API server refuses them); we stop with an error instead (DIFFERENCES).
NOT_BASE64 = {
    "secret_embedded_base64.yaml": "data['secret.yaml']",
    "secret_path-multi.yaml": "data.SECRET_VAR",
    "secret_remove_missing.yaml": "data.PORT",
}


def _without_not_base64(docs: list[dict]) -> list[dict]:
    names = {("embedded-secret-base64", None), ("example-secret-multi", None), ("my-app", "PORT")}
    return [d for d in docs if not any(d["metadata"]["name"] == n and (k is None or k in (d.get("data") or {}))
                                       for n, k in names)]


def test_will_replace_templates_from_local_vault(avp_env, tmp_path):
    assert "generate/will replace templates from local vault" in DIFFERENCES
    r = resolve([str(INPUT / "nonempty"), *PREFIXES], avp_env)
    assert r.code == 1 and r.out == ""
    for file, field in NOT_BASE64.items():
        assert re.search(rf"{file}: error: Secret/\S+( \(document \d+\))? {re.escape(field)}: the value resolved for"
                         r" \S+ is not valid base64", r.err), r.err
    assert r.err.count("is not valid base64") == 3, r.err
    # Every other document: byte for byte what AVP prints, in AVP's order.
    work = tmp_path / "nonempty"
    shutil.copytree(INPUT / "nonempty", work)
    for file in NOT_BASE64:
        (work / file).unlink()
    r = resolve([str(work), *PREFIXES], avp_env)
    assert r.code == 0, r.err
    expected = _without_not_base64([d for d in yaml.safe_load_all(fixture("output/all.yaml")) if d])
    assert len(expected) == 13
    assert r.out == _avp_text(fixture("output/all.yaml"), expected)


def _avp_text(text: str, keep: list[dict]) -> str:
    """The documents of AVP's output file that are in `keep`, as AVP's own bytes."""
    chunks = [c for c in text.split("---\n") if c.strip()]
    return "".join(c + "---\n" for c in chunks if yaml.safe_load(c) in keep)


def test_will_ignore_templates_with_avp_ignore_set_to_true(avp_env):
    r = resolve([str(INPUT / "nonempty" / "ignored-secret.yaml"), *PREFIXES], avp_env)
    assert (r.code, r.out) == (0, fixture("output/ignored-secret.yaml")), r.err


def test_will_read_from_stdin(avp_env):
    r = resolve(["-", *PREFIXES], avp_env, stdin=fixture("input/nonempty/full.yaml"))
    assert (r.code, r.out) == (0, fixture("output/stdin-full.yaml")), r.err


def test_will_return_invalid_yaml_error_from_stdin(avp_env):
    """AVP: `Error: error converting YAML to JSON: yaml: line 18: did not find expected key`, go-yaml's
    line number being the 0-based line of the problem. Ours: the 1-based line and column."""
    assert "generate/will return invalid yaml error from STDIN" in DIFFERENCES
    r = resolve(["-", *PREFIXES], avp_env, stdin=fixture("input/invalid.yaml"))
    assert r.code == 1 and r.out == ""
    assert r.err.strip() == "<stdin>:19:5: error: error converting YAML to JSON: yaml: did not find expected key"


def test_will_return_that_path_validation_env_is_not_valid(avp_env):
    r = resolve([str(INPUT / "nonempty"), *PREFIXES], dict(avp_env, AVP_PATH_VALIDATION=r"^\/(?!\/)(.*?)"))
    assert r.code == 1 and r.out == ""
    assert ("^\\/(?!\\/)(.*?) is not a valid regular expression: error parsing regexp: invalid or unsupported"
            " Perl syntax: `(?!`") in r.err


def test_will_not_create_cache_if_disabled(avp_env, tmp_path):
    work = tmp_path / "nonempty"
    shutil.copytree(INPUT / "nonempty", work)
    for file in NOT_BASE64:
        (work / file).unlink()
    cache = avp_env["CMP_VAULT_CACHE_DIR"]
    r = resolve([str(work), "--disable-token-cache", *PREFIXES], avp_env)
    assert r.code == 0, r.err
    assert r.out == _avp_text(fixture("output/all.yaml"),
                              _without_not_base64([d for d in yaml.safe_load_all(fixture("output/all.yaml")) if d]))
    assert not list(Path(cache).iterdir()), "no token may be cached"
    # and without the flag the AppRole token is cached
    r = resolve([str(work), *PREFIXES], avp_env)
    assert r.code == 0 and list(Path(cache).iterdir())
