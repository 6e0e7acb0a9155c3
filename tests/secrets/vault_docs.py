"""Builders for the documents the secrets tests resolve."""

from __future__ import annotations

import base64


def secret(name: str = "s", *, string_data=None, data=None, annotations=None, kind="Secret") -> dict:
    doc = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}
    if annotations:
        doc["metadata"]["annotations"] = dict(annotations)
    if string_data is not None:
        doc["stringData"] = dict(string_data)
    if data is not None:
        doc["data"] = dict(data)
    return doc


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def run(docs, env, *, project: str = "shop", prefix: str = "kv/data/shop", **kw):
    from cmp_plugin.secrets import resolve_documents

    return resolve_documents(docs, project=project, prefix=prefix, env=env, **kw)


def fail(docs, env, **kw) -> str:
    """The Failure text of a run that must fail."""
    from cmp_plugin.problems import Failure

    try:
        run(docs, env, **kw)
    except Failure as exc:
        return str(exc)
    raise AssertionError("resolve_documents did not fail")


def vault_env(addr: str, cache_dir: str = "", **extra) -> dict:
    env = {"VAULT_ADDR": addr}
    if cache_dir:
        env["CMP_VAULT_CACHE_DIR"] = cache_dir
    env.update(extra)
    return env
