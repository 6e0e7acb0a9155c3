"""argocd-vault-plugin's modifier tests, run through `cmp-render resolve` against a real OpenBao.

Ported from github.com/argoproj-labs/argocd-vault-plugin at commit b046a7d: pkg/kube/modifiers_test.go
(24 test functions). AVP calls each modifier function on a Go value; here the value is stored in
OpenBao and read by an inline placeholder `<path:P#v | MODIFIER ARGS>` in a document of a made-up
kind (where a typed result replaces the field, as in AVP). Errors are AVP's text, which we print
as `MODIFIER: ERROR for placeholder ... in string v: ...`; for JSON syntax errors AVP's tests
check only the error's type (json.SyntaxError), so do we (ours gives a position, never the text).
"""

from __future__ import annotations

import pytest
import yaml

from avp_support import resolve_docs

MAP = {"data": {"subkey": "secret"}}


def run(avp_vault, avp_env, value, modifiers: str):
    path = avp_vault.store({"v": value})
    doc = {"apiVersion": "v1", "kind": "AVPTestKind", "metadata": {"name": "t"},
           "v": f"<path:{path}#v | {modifiers}>"}
    return resolve_docs([doc], avp_env)


def ok(result):
    assert result.code == 0, result.err
    (doc,) = [d for d in yaml.safe_load_all(result.out) if d]
    return doc["v"]


def error(result, name: str, message: str) -> None:
    assert result.code == 1 and result.out == ""
    assert f"{name}: {message} for placeholder path:" in result.err, result.err


CASES = [
    # (AVP test, value, modifiers, expected result or ("error", name, message))
    ("JsonPath_invalidParams", MAP, "jsonPath", ("error", "jsonPath", "invalid parameters")),
    ("JsonPath_missingPath", MAP, "jsonPath {.missingPath}", ("error", "jsonPath", "missingPath is not found")),
    ("JsonPath_invalidPath", MAP, "jsonPath {!invalidPath}",
     ("error", "jsonPath", "unrecognized character in action: U+0021 '!'")),
    ("JsonPath_unmarshal_error", "hi, how are you", "jsonPath {.data.subkey}", ("error", "jsonPath", "invalid JSON: Expecting value at line 1 column 1")),
    ("JsonPath_unmarshal_succcess", '{"data": {"subkey": "secret"}}', "jsonPath {.data.subkey}", "secret"),
    ("JsonPath_succcess", MAP, "jsonPath {.data.subkey}", "secret"),
    ("Base64Encode_invalidParams", "mysecret", "base64encode astring", ("error", "base64encode", "invalid parameters")),
    ("Base64Encode_invalidDataType", MAP, "base64encode",
     ("error", "base64encode", "invalid datatype map[string]interface {}")),
    ("Base64Encode_success", "mysecret", "base64encode", "bXlzZWNyZXQ="),
    ("Base64Decode_invalidParams", "bXlzZWNyZXQ=", "base64decode astring",
     ("error", "base64decode", "invalid parameters")),
    ("Base64Decode_invalidDataType", MAP, "base64decode",
     ("error", "base64decode", "invalid datatype map[string]interface {}")),
    ("Base64Decode_success", "bXlzZWNyZXQ=", "base64decode", "mysecret"),
    ("JsonParse_invalidParams", "mysecret", "jsonParse astring", ("error", "jsonParse", "invalid parameters")),
    ("JsonParse_invalidDataType", MAP, "jsonParse", ("error", "jsonParse", "invalid datatype map[string]interface {}")),
    ("JsonParse_invalidJSON", "hello", "jsonParse", ("error", "jsonParse", "invalid JSON: Expecting value at line 1 column 1")),
    ("JsonParse_success", '{"data": {"subkey": "secret"}}', "jsonParse", {"data": {"subkey": "secret"}}),
    ("YAMLToJSON_success", "data: secret", "yamlParse", {"data": "secret"}),
    ("YamlJsonPath_unmarshal_succcess", "---\nkey1: secret1\nkey2: secret2\nkey3: secret3",
     "yamlParse | jsonPath {.key2}", "secret2"),
    ("Indent_multiline", "a\nmulti-line\nstring", "indent 3", "a\n   multi-line\n   string"),
    ("Indent_singleline", "a-string", "indent 10", "a-string"),
    ("Sha256Sum_invalidParams", "mysecret", "sha256sum astring", ("error", "sha256sum", "invalid parameters")),
    ("Sha256Sum_invalidDataType", MAP, "sha256sum",
     ("error", "sha256sum", "invalid datatype map[string]interface {}, expected string")),
    ("Sha256Sum_success", "mysecret", "sha256sum", "652c7dc687d98c9889304ed2e408c74b611e86a40caa51c4b43f1dd5913c5cd0"),
]


@pytest.mark.parametrize("case, value, modifiers, expected", CASES, ids=[c[0] for c in CASES])
def test_modifier(avp_vault, avp_env, case, value, modifiers, expected):
    result = run(avp_vault, avp_env, value, modifiers)
    if isinstance(expected, tuple):
        error(result, expected[1], expected[2])
    else:
        assert ok(result) == expected


def test_Indent_invalid(avp_vault, avp_env):
    error(run(avp_vault, avp_env, "a-string", "indent ten"), "indent", "invalid indentation level")
    error(run(avp_vault, avp_env, "a-string", "indent 10 10"), "indent", "invalid parameters")
