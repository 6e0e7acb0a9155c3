"""CI pods per project: how many pods a project's CI objects keep running, by number of applications.

Renders generated projects (N applications built from git, in a few repositories) with this
checkout and, with --before REV, with the package as it was at a git revision, and counts the pods
the objects imply while no build runs:

- EventBus: its servers. JetStream: spec.jetstream.replicas (default 3). Native NATS Streaming:
  spec.nats.native.replicas, raised to 3 by Argo Events' controller when lower.
- EventSource and Sensor: one Deployment each, spec.replicas pods (default 1).

Usage: python benchmarks/ci_pods.py [--apps 1,3,10] [--before REV]
       e.g. --before c3ed531 (the last revision with an EventSource and a Sensor per application)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from _common import checkout

REPO = Path(__file__).resolve().parent.parent


def project_text(n: int) -> str:
    """n applications built from git, two per repository (a monorepo pair), one domain each."""
    apps = "".join(
        f"  - name: app{i}\n    git:\n      owner: acme\n      repo: repo{i // 2}\n      branch: main\n"
        f"      hash: ~\n    port: {8000 + i}\n" for i in range(n))
    return f"applications:\n{apps}"


def pods(docs: list[dict]) -> dict[str, int]:
    out = {"EventBus": 0, "EventSource": 0, "Sensor": 0}
    for doc in docs:
        kind, spec = doc.get("kind"), doc.get("spec") or {}
        if kind == "EventBus":
            if "jetstream" in spec:
                out[kind] += spec["jetstream"].get("replicas", 3)
            else:
                out[kind] += max(3, (spec.get("nats") or {}).get("native", {}).get("replicas", 3))
        elif kind in ("EventSource", "Sensor"):
            out[kind] += spec.get("replicas", 1)
    return out


def render(package_root: Path, file: Path, env: dict) -> list[dict]:
    run = subprocess.run([sys.executable, "-m", "cmp_plugin", str(file)], capture_output=True, text=True,
                         env={**env, "PYTHONPATH": str(package_root)}, cwd=file.parent)
    if run.returncode:
        raise SystemExit(f"render of {file.name} with {package_root} failed:\n{run.stderr[:2000]}")
    return [d for d in yaml.safe_load_all(run.stdout) if d]




def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", default="1,3,10")
    ap.add_argument("--before", metavar="REV", help="also count the pods of the package at this git revision")
    args = ap.parse_args()
    counts = [int(n) for n in args.apps.split(",")]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CMP_", "VAULT_", "AVP_"))}
    with tempfile.TemporaryDirectory(prefix="cmp-ci-pods-") as tmp:
        tmp = Path(tmp)
        columns = []
        if args.before:
            columns.append((f"before ({args.before}, defaults)", checkout(args.before, tmp / "before"), env))
        columns.append(("after (defaults: 1 JetStream server)", REPO, env))
        columns.append(("after (eventbus_replicas: 3)", REPO, {**env, "CMP_EVENTBUS_REPLICAS": "3"}))
        rows = []
        for n in counts:
            file = tmp / f"p{n}.yaml"
            file.write_text(project_text(n))
            cells = []
            for _, root, column_env in columns:
                found = pods(render(root, file, column_env))
                cells.append(f"{sum(found.values())} ({found['EventBus']} + {found['EventSource']} + {found['Sensor']})")
            rows.append((n, cells))
    print("CI pods per project: total (EventBus + EventSources + Sensors), no build running\n")
    print("| applications | " + " | ".join(title for title, _, _ in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for n, cells in rows:
        print(f"| {n} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
