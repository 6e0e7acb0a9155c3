"""Render benchmarks, figures as medians and ratios measured side by side in one run.

1. A cold `cmp-render` of the seed example against a bare `python -c pass` (target: <= 4x).
   Runs alternate so both see the same machine noise. The first run warms the on-disk
   template cache, as the first render in a fresh sidecar does; it is reported separately.
2. `cmp-render check` over 1,000 generated project files (target: <= 5 s on 2 cores).

Usage: python benchmarks/bench_render.py [--runs N] [--files N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED_EXAMPLE = REPO / "examples" / "projects" / "seed-example.yaml"


def cmp_render() -> list[str]:
    exe = Path(sys.executable).with_name("cmp-render")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "cmp_plugin"]


def timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    if result.returncode:
        raise SystemExit(f"{cmd[0]} {cmd[1]} ... failed:\n{result.stderr[:2000]}")
    return time.perf_counter() - start


def project_text(i: int) -> str:
    def sha(j: int) -> str:  # quoted: an all-digit sha would otherwise load as a YAML integer
        return f'"{i * 7 + j:040x}"' if j % 2 else "~"

    apps = "".join(
        f"  - name: app{j}\n    git:\n      type: github\n      owner: org{i}\n      repo: repo-{j}\n"
        f"      branch: main\n      hash: {sha(j)}\n    port: {8000 + j}\n"
        f"    domains:\n      - app{j}.p{i}.example.com\n" for j in range(3))
    dbs = "".join(f"  - name: db{j}\n    type: {t}\n    version: \"{v}\"\n    port: {p}\n    size: {j + 1}Gi\n"
                  for j, (t, v, p) in enumerate([("mysql", "8.4", 3306), ("redis", "7.4", 6379)]))
    return f"# generated project {i}\napplications:\n{apps}databases:\n{dbs}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--files", type=int, default=1000)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CMP_", "VAULT_", "AVP_"))}
    cache = tempfile.mkdtemp(prefix="cmp-bench-cache-")
    env["TMPDIR"] = cache  # a fresh template cache, as in a new sidecar
    render = cmp_render() + [str(SEED_EXAMPLE)]
    baseline = [sys.executable, "-c", "pass"]

    first = timed(render, env)
    base_runs, render_runs = [], []
    for _ in range(args.runs):
        base_runs.append(timed(baseline, env))
        render_runs.append(timed(render, env))
    base, rend = statistics.median(base_runs), statistics.median(render_runs)
    print(f"cold render of {SEED_EXAMPLE.name}: median {rend * 1000:.0f} ms over {args.runs} runs; "
          f"python -c pass: median {base * 1000:.0f} ms")
    print(f"  ratio render / python -c pass = {rend / base:.2f}x (target <= 4x)")
    print(f"  first run (compiles templates into the cache) = {first / base:.2f}x of python -c pass")

    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i in range(args.files):
            path = Path(tmp) / f"project-{i:04d}.yaml"
            path.write_text(project_text(i))
            files.append(str(path))
        check_runs = [timed(cmp_render() + ["check", *files], env) for _ in range(3)]
        print(f"check of {args.files} project files: median {statistics.median(check_runs):.2f} s over 3 runs "
              f"(target <= 5 s); {statistics.median(check_runs) / base:.0f}x python -c pass")
    shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
