"""Helpers shared by the tests: the checkout's paths and cmp-render run as a user runs it."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
EXAMPLES = REPO / "examples" / "projects"


SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def yaml_docs(text) -> list:
    """The documents of a YAML stream, empty ones left out, by PyYAML's safe loader (in C where it
    is built: the pure-Python one takes a tenth of a second for one project's manifests)."""
    return [d for d in yaml.load_all(text, Loader=SAFE_LOADER) if d is not None]


def expected_lines(path: Path) -> list[str]:
    """The `# expect: ` lines of an invalid fixture, with {file} its path from the checkout."""
    rel = str(path.relative_to(REPO))
    return [line[len("# expect: "):].replace("{file}", rel)
            for line in path.read_text().splitlines() if line.startswith("# expect: ")]


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


def run_in_process(argv: list[str], env: dict, stdin: str = ""):
    """`cmp-render ARGV` in this process, with exactly `env` (plus PATH, HOME, TMPDIR, NO_PROXY)
    as its environment; returns (exit code, stdout, stderr)."""
    import io

    from cmp_plugin.cli import main

    saved_env, saved = dict(os.environ), (sys.stdin, sys.stdout, sys.stderr)
    out, err = io.StringIO(), io.StringIO()
    os.environ.clear()
    os.environ.update({k: v for k, v in saved_env.items() if k in ("PATH", "HOME", "TMPDIR", "NO_PROXY", "no_proxy")})
    os.environ.update(env)
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()))
    sys.stdout, sys.stderr = out, err
    try:
        code = main(list(argv))
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
        os.environ.clear()
        os.environ.update(saved_env)
    return code, out.getvalue(), err.getvalue()
