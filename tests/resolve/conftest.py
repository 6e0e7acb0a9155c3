"""Fixtures of the `cmp-render resolve` tests: an OpenBao dev server with KV v2 at kv/ and a
token that reads kv/data/team-a/* only."""

from __future__ import annotations

import pytest

from openbao_plugin import _loopback_only, openbao_server  # noqa: F401  (fixtures)


class Vault:
    def __init__(self, bao):
        self.bao = bao
        self.addr = bao.addr
        bao.enable_kv("kv", 2)
        bao.policy("team-a", 'path "kv/data/team-a/*" { capabilities = ["read"] }')
        self.token = bao.token(["team-a"])
        bao.put_kv2("kv", "team-a/db", {"password": "pw-Zq8<x>y", "user": "app", "port": 5432})
        bao.put_kv2("kv", "team-b/db", {"password": "pw-of-team-b"})

    def env(self, **extra) -> dict:
        return {"VAULT_ADDR": self.addr, "VAULT_TOKEN": self.token, **extra}


@pytest.fixture(scope="session")
def vault(openbao_server):  # noqa: F811
    return Vault(openbao_server)
