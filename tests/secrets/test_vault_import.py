"""Cold start: hvac and requests load only when a run reads from Vault."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = "import sys; {code}; print(sorted(m for m in ('hvac', 'requests', 'urllib3') if m in sys.modules))"


@pytest.mark.parametrize("code, loaded", [
    ("import cmp_plugin.secrets", "[]"),
    ("from cmp_plugin.secrets import find_placeholders, resolve_documents", "[]"),
    ("from cmp_plugin.secrets import find_placeholders; find_placeholders([{'kind': 'Secret', 'stringData': "
     "{'a': '<path:kv/data/x/y#z>'}}])", "[]"),
    ("from cmp_plugin.secrets import resolve_documents; resolve_documents([{'kind': 'Secret', 'stringData': "
     "{'a': 'plain'}}], project='x', prefix='kv/data/x', env={})", "[]"),
    ("from cmp_plugin.secrets import resolve_documents\n"
     "try: resolve_documents([{'kind': 'Secret', 'stringData': {'a': '<path:kv/data/y/z#k>'}}], project='x', "
     "prefix='kv/data/x', env={})\nexcept Exception: pass", "[]"),  # rejected before any request
    ("from cmp_plugin.secrets.client import VaultClient", "['hvac', 'requests', 'urllib3']"),
])
def test_lazy_imports(code, loaded):
    out = subprocess.run([sys.executable, "-c", CHECK.format(code=code)], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == loaded
