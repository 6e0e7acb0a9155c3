"""How many HTTP requests a render costs Vault: our resolver against argocd-vault-plugin.

    python3 benchmarks/vault_requests.py [--sizes 1,10,50]

For each size N: N placeholders (`<path:...#KEY>`, five keys per path, so ceil(N/5) paths) in
Secrets of a project; a real OpenBao dev server behind a counting proxy on 127.0.0.1; AppRole
auth, as a sidecar would use (Kubernetes auth costs the same requests). Each size runs cold (empty
token cache) and then warm (the token cached by the previous run, as in the next sync).

AVP's numbers are computed from its documented behaviour at b046a7d, not measured (it is a Go
binary we do not run here): it reads once per placeholder occurrence (no cache within a run),
and its Kubernetes auth logs in on every run (1 + N); its AppRole auth keeps a token in
~/.avp/config.json but checks it with a lookup-self call on every run (1 + N as well, plus one
login when the token is missing or expired).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "secrets"))

from openbao import OpenBao  # noqa: E402
from vault_servers import CountingProxy  # noqa: E402

from cmp_plugin.secrets import resolve_documents  # noqa: E402

KEYS_PER_PATH = 5


def project_docs(n: int) -> tuple[list[dict], dict[str, dict[str, str]]]:
    """N placeholders over ceil(N/5) paths, five per Secret; and the values to store."""
    values: dict[str, dict[str, str]] = {}
    docs = []
    for i in range(n):
        path, key = f"bench/p{i // KEYS_PER_PATH}", f"k{i % KEYS_PER_PATH}"
        values.setdefault(path, {})[key] = f"value-{i}"
        if i % KEYS_PER_PATH == 0:
            docs.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s{i // KEYS_PER_PATH}"},
                         "stringData": {}})
        docs[-1]["stringData"][key] = f"<path:kv/data/{path}#{key}>"
    return docs, values


def measure(proxy: CountingProxy, docs: list[dict], env: dict) -> tuple[int, int, int, float]:
    proxy.clear()
    start = time.perf_counter()
    out = resolve_documents(docs, project="bench", prefix="kv/data/bench", env=env)
    took = time.perf_counter() - start
    assert all("<path:" not in v for d in out for v in d["stringData"].values())
    logins, reads = len(proxy.logins()), len(proxy.reads())
    return logins, reads, len(proxy.seen), took


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,50")
    sizes = [int(s) for s in parser.parse_args(argv).sizes.split(",")]
    rows = []
    with OpenBao() as bao, CountingProxy(bao.addr) as proxy:
        bao.enable_kv("kv", 2)
        bao.policy("bench", 'path "kv/data/bench/*" { capabilities = ["read"] }')
        role_id, secret_id = bao.approle("bench", ["bench"])
        for n in sizes:
            docs, values = project_docs(n)
            for path, data in values.items():
                bao.put_kv2("kv", path, data)
            with tempfile.TemporaryDirectory() as cache:
                env = {"VAULT_ADDR": proxy.addr, "AVP_AUTH_TYPE": "approle", "AVP_ROLE_ID": role_id,
                       "AVP_SECRET_ID": secret_id, "CMP_VAULT_CACHE_DIR": cache, "NO_PROXY": "127.0.0.1"}
                cold = measure(proxy, docs, env)
                warm = measure(proxy, docs, env)
            rows.append((n, math.ceil(n / KEYS_PER_PATH), cold, warm, 1 + n))
    print("| placeholders | paths | ours, cold cache (logins + reads) | ours, warm cache | AVP, every run"
          " (login or lookup-self + reads) | ours cold / warm time |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, paths, cold, warm, avp in rows:
        print(f"| {n} | {paths} | {cold[2]} ({cold[0]} + {cold[1]}) | {warm[2]} ({warm[0]} + {warm[1]}) | {avp}"
              f" (1 + {n}) | {cold[3] * 1000:.0f} ms / {warm[3] * 1000:.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
