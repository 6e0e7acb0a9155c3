"""Fixtures of the `cmp-render resolve` tests: an OpenBao dev server with KV v2 at kv/ and a
token that reads kv/data/team-a/* only."""

from __future__ import annotations

import pytest

from openbao_plugin import KVReader, _loopback_only, openbao_server  # noqa: F401  (fixtures)


@pytest.fixture(scope="session")
def vault(openbao_server):  # noqa: F811
    return KVReader(openbao_server, "team-a", "team-a", {
        "team-a/db": {"password": "pw-Zq8<x>y", "user": "app", "port": 5432},
        "team-b/db": {"password": "pw-of-team-b"}})
