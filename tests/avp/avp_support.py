"""Running `cmp-render resolve` in-process, the way AVP's tests run `generate`, and the record of
which ported cases give a different result on purpose (each is in docs/secrets.md)."""

from __future__ import annotations

import json
from collections import namedtuple
from pathlib import Path

import yaml

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "secrets.md"
PREFIXES = ["--prefix", "secret", "--prefix", "kv"]  # AVP's test Vault: every path of both mounts

Result = namedtuple("Result", "code out err")


def resolve(args: list[str], env: dict, stdin: str | None = None) -> Result:
    """`cmp-render resolve ARGS` in this process with exactly `env` as its environment."""
    from cliutil import run_in_process

    return Result(*run_in_process(["resolve", *args], env, stdin or ""))


def resolve_docs(docs: list[dict], env: dict, args: list[str] = PREFIXES) -> Result:
    """Resolve documents given as data (AVP's Template tests build them in Go), sent as a JSON
    stream so that every value keeps its exact type."""
    return resolve([*args, "-"], env, stdin="\n".join(json.dumps(d) for d in docs))


def only_doc(result: Result) -> dict:
    assert result.code == 0, result.err
    (doc,) = [d for d in yaml.safe_load_all(result.out) if d]
    return doc


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


# Ported cases whose result differs from AVP's on purpose, with the row of docs/secrets.md
# ("Ported test cases that differ") that explains it. The tests assert our behaviour for them.
DIFFERENCES = {
    "generate/returns error for empty manifests": "empty output is refused",
    "generate/will replace templates from local vault": "Secret data must be valid base64",
    "generate/will return invalid yaml error from STDIN": "error position format",
    "template/TestNewTemplate/will GetSecrets for placeholder'd YAML": "annotation path read only when needed",
    "template/TestNewTemplate/will GetSecrets with version given in avp.kubernetes.io/secret-version":
        "Secret data must be valid base64",
    "template/TestNewTemplate/will GetSecrets with latest version by default": "Secret data must be valid base64",
    "template/TestNewTemplate/will GetSecrets with latest version by default and path validation regexp":
        "Secret data must be valid base64",
    "template/TestToYAML_Secret_PlaceholderedStringData": "typed values in a Secret become text",
    "util/TestStringify/[]byte": "no byte values",
    "util/TestSecretNamespaceName": "configuration only from the environment",
}


def listed_in_docs(case: str) -> bool:
    return f"`{case}`" in DOCS.read_text()
