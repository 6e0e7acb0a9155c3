"""Helpers shared by the tests: the checkout's paths and cmp-render run as a user runs it."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
EXAMPLES = REPO / "examples" / "projects"


def clean_env(**extra: str) -> dict:
    """The test process's environment without platform settings or Vault variables."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CMP_", "VAULT_", "AVP_", "ARGOCD_"))}
    env.update(extra)
    return env


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """cmp-render as a user runs it, from this checkout."""
    env = clean_env() if env is None else env
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "cmp_plugin", *args], capture_output=True, text=True,
                          env=env, cwd=cwd or REPO, timeout=120)
