"""Render benchmarks: medians, and ratios measured side by side in one run.

1. In-process render of each example (median of repeated renders in one process, after one
   render that fills the caches; that first render is reported too). Targets: the seed example
   <= 5 ms, the largest example <= 10 ms.
2. A cold `cmp-render` of the seed example against a bare `python -c pass` (target: <= 4x),
   alternating so both see the same machine noise, and where the cold run's time goes: imports
   (`python -X importtime`: jinja2, PyYAML, the package, the rest) and the stages of the run.
3. Time per application of projects with 50, 100, 200 and 400 applications (no quadratic step:
   the time per application stays flat).
4. Peak memory: Python allocations (tracemalloc) of one render of the seed example and of a
   1,000-application project, and the maximum resident set of those cold runs and of `python -c pass`.
5. `cmp-render check` over 1,000 generated project files (target: <= 5 s on 2 cores).

Every measurement runs in a child process with the package on PYTHONPATH and its bytecode compiled
(as the image does): this checkout, and with --before REV the package as it was at that revision.

Usage: python benchmarks/bench_render.py [--runs N] [--files N] [--before REV] [--skip SECTIONS]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _common import checkout

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "projects"
SEED_EXAMPLE = EXAMPLES / "seed-example.yaml"
SCALES = (50, 100, 200, 400)
BIG = 1000


def project_text(i: int) -> str:
    """A small generated project: three applications built from git, MySQL and Redis."""
    def sha(j: int) -> str:  # quoted: an all-digit sha would otherwise load as a YAML integer
        return f'"{i * 7 + j:040x}"' if j % 2 else "~"

    apps = "".join(
        f"  - name: app{j}\n    git:\n      type: github\n      owner: org{i}\n      repo: repo-{j}\n"
        f"      branch: main\n      hash: {sha(j)}\n    port: {8000 + j}\n"
        f"    domains:\n      - app{j}.p{i}.example.com\n" for j in range(3))
    dbs = "".join(f"  - name: db{j}\n    type: {t}\n    version: \"{v}\"\n    port: {p}\n    size: {j + 1}Gi\n"
                  for j, (t, v, p) in enumerate([("mysql", "8.4", 3306), ("redis", "7.4", 6379)]))
    return f"# generated project {i}\napplications:\n{apps}databases:\n{dbs}"


def apps_project(n: int) -> str:
    """n deployed applications built from git, each with a domain, a secret, env and a database."""
    apps = "".join(
        f"  - name: app{j}\n    git:\n      owner: org\n      repo: repo-{j}\n      branch: main\n"
        f"      hash: \"{j + 1:040x}\"\n    port: {8000 + j % 1000}\n    domains:\n      - app{j}.example.com\n"
        f"    secrets: [API_KEY]\n    env:\n      LOG_LEVEL: info\n    uses: [db]\n" for j in range(n))
    return (f"applications:\n{apps}databases:\n"
            "  - name: db\n    type: postgres\n    version: \"16\"\n    port: 5432\n    size: 5Gi\n")


# ------------------------------------------------------------------------------ child processes

def child_env(root: Path, cache: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CMP_", "VAULT_", "AVP_", "PYTHON"))}
    env.update(PYTHONPATH=str(root), TMPDIR=cache)  # TMPDIR: a fresh template cache, as in a new sidecar
    return env


# Children run here: `python -c` and `-m` put the working directory first on sys.path, which must
# not hold another cmp_plugin than PYTHONPATH's.
NEUTRAL_DIR = tempfile.gettempdir()


def run(cmd: list[str], env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=NEUTRAL_DIR)
    if result.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed:\n{result.stderr[-3000:]}")
    return result


def timed(cmd: list[str], env: dict) -> tuple[float, int]:
    """(wall seconds, max resident set in KiB) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=NEUTRAL_DIR)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, for its resource usage
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed:\n{proc.stderr.read()[-3000:]}")
    proc.stderr.close()
    return elapsed, usage.ru_maxrss


def python(code: str, env: dict, *args: str) -> dict:
    """Run code in a child Python; it prints one JSON object."""
    return json.loads(run([sys.executable, "-c", textwrap.dedent(code), *args], env).stdout)


# Works with this checkout and with earlier revisions (before fastyaml existed).
IN_PROCESS = """
    import json, statistics, sys, time
    from cmp_plugin import pipeline
    from cmp_plugin.settings import load_settings
    settings = load_settings({})
    runs = int(sys.argv[1])
    out = {}
    for path in sys.argv[2:]:
        start = time.perf_counter()
        text = pipeline.render_file(path, settings=settings, env={})
        first = time.perf_counter() - start
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            pipeline.render_file(path, settings=settings, env={})
            times.append(time.perf_counter() - start)
        out[path] = {"first": first, "median": statistics.median(times), "bytes": len(text)}
    print(json.dumps(out))
"""

# One cold run, stage by stage (the package's own stages, whatever version it is).
STAGES = """
    import json, sys, time
    t0 = time.perf_counter()
    from cmp_plugin import check, emit, pipeline, render
    from cmp_plugin.settings import load_settings
    import jinja2
    t1 = time.perf_counter()
    settings = load_settings({})
    project = pipeline.load_project(sys.argv[1], None, settings)
    t2 = time.perf_counter()
    text = render.render_text(project, settings)
    t3 = time.perf_counter()
    try:
        from cmp_plugin import fastyaml
        docs = fastyaml.load_all(text)
    except ImportError:
        import yaml
        docs = [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d is not None]
    t4 = time.perf_counter()
    check.check(docs, vault_prefix=project.vault_prefix, resolved=False)
    t5 = time.perf_counter()
    emit.emit(docs)
    t6 = time.perf_counter()
    print(json.dumps({"imports": t1 - t0, "load and validate": t2 - t1, "templates": t3 - t2,
                      "read the YAML": t4 - t3, "check": t5 - t4, "emit": t6 - t5}))
"""

MEMORY = """
    import json, sys, tracemalloc
    from cmp_plugin import pipeline
    from cmp_plugin.settings import load_settings
    settings = load_settings({})
    pipeline.render_file(sys.argv[1], settings=settings, env={})  # imports and caches are not the render's
    tracemalloc.start()
    pipeline.render_file(sys.argv[1], settings=settings, env={})
    print(json.dumps({"peak": tracemalloc.get_traced_memory()[1]}))
"""


def _top_level_imports(cmd: list[str], env: dict) -> dict[str, int]:
    """name -> cumulative microseconds of each import made outside another import (-X importtime)."""
    result = run([sys.executable, "-X", "importtime", *cmd], env)
    out = {}
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            out[parts[2].strip()] = int(parts[1])
    return out


def import_groups(env: dict) -> dict[str, float]:
    """Seconds of a cold run's imports beyond those of `python -c pass`, by what imports them."""
    startup = _top_level_imports(["-c", "pass"], env)
    groups: dict[str, float] = {}
    for name, micros in _top_level_imports(["-m", "cmp_plugin", str(SEED_EXAMPLE)], env).items():
        if name in startup:
            continue
        group = {"cmp_plugin": "the package", "jinja2": "jinja2", "yaml": "PyYAML"}.get(name.split(".")[0], "other")
        groups[group] = groups.get(group, 0) + micros / 1e6
    return groups


# ------------------------------------------------------------------------------ sections

def in_process(label: str, env: dict, runs: int) -> None:
    files = sorted(EXAMPLES.glob("*.yaml"))
    found = python(IN_PROCESS, env, str(runs), *map(str, files))
    print(f"\n## In-process render ({label}): median of {runs} renders after the first\n")
    print("| example | output | median |")
    print("|---|---|---|")
    for path in files:
        r = found[str(path)]
        print(f"| {path.stem} | {r['bytes'] // 1024} KiB | {r['median'] * 1000:.1f} ms |")


def cold(label: str, env: dict, runs: int) -> float:
    render = [sys.executable, "-m", "cmp_plugin", str(SEED_EXAMPLE)]
    baseline = [sys.executable, "-c", "pass"]
    first, _ = timed(render, env)  # fills the template cache, as the first render of a new sidecar does
    base_runs, render_runs = [], []
    for _ in range(runs):
        base_runs.append(timed(baseline, env)[0])
        render_runs.append(timed(render, env)[0])
    base, rend = statistics.median(base_runs), statistics.median(render_runs)
    stages = [python(STAGES, env, str(SEED_EXAMPLE)) for _ in range(max(3, runs // 4))]
    imports = [import_groups(env) for _ in range(max(3, runs // 4))]
    print(f"\n## Cold `cmp-render` of {SEED_EXAMPLE.name} ({label})\n")
    print(f"- median {rend * 1000:.0f} ms over {runs} runs; `python -c pass` median {base * 1000:.0f} ms; "
          f"ratio {rend / base:.2f}x (target <= 4x)")
    print(f"- first run (compiles templates into the cache): {first / base:.2f}x of `python -c pass`")
    print("- where it goes (medians): " + ", ".join(
        f"{name} {statistics.median(s[name] for s in stages) * 1000:.1f} ms" for name in stages[0]))
    names = sorted({n for i in imports for n in i}, key=lambda n: -statistics.median(i.get(n, 0) for i in imports))
    print("- imports beyond those of `python -c pass` (`-X importtime`, medians): " + ", ".join(
        f"{name} {statistics.median(i.get(name, 0) for i in imports) * 1000:.1f} ms" for name in names))
    return rend / base


def scaling(label: str, env: dict, tmp: Path, runs: int) -> None:
    files = []
    for n in SCALES:
        path = tmp / f"apps-{n}.yaml"
        path.write_text(apps_project(n))
        files.append(path)
    found = python(IN_PROCESS, env, str(runs), *map(str, files))
    print(f"\n## Applications per project ({label}): in-process median of {runs} renders\n")
    print("| applications | output | render | per application |")
    print("|---|---|---|---|")
    per_app = []
    for n, path in zip(SCALES, files):
        r = found[str(path)]
        per_app.append(r["median"] / n)
        print(f"| {n} | {r['bytes'] // 1024} KiB | {r['median'] * 1000:.0f} ms | {r['median'] / n * 1000:.2f} ms |")
    print(f"\nper application at {SCALES[-1]} / at {SCALES[0]}: {per_app[-1] / per_app[0]:.2f} (1.0: linear)")


def memory(label: str, env: dict, tmp: Path) -> None:
    big = tmp / f"apps-{BIG}.yaml"
    big.write_text(apps_project(BIG))
    print(f"\n## Peak memory ({label})\n")
    print("| run | Python allocations during the render (tracemalloc peak) | max RSS of a cold `cmp-render` |")
    print("|---|---|---|")
    _, base_rss = timed([sys.executable, "-c", "pass"], env)
    print(f"| `python -c pass` | - | {base_rss / 1024:.0f} MiB |")
    for name, path in ((SEED_EXAMPLE.name, SEED_EXAMPLE), (f"{BIG} applications", big)):
        peak = python(MEMORY, env, str(path))["peak"]
        elapsed, rss = timed([sys.executable, "-m", "cmp_plugin", str(path)], env)
        print(f"| {name} | {peak / 2 ** 20:.1f} MiB | {rss / 1024:.0f} MiB ({elapsed:.1f} s) |")


def check_many(label: str, env: dict, tmp: Path, count: int) -> None:
    files = []
    for i in range(count):
        path = tmp / f"project-{i:04d}.yaml"
        path.write_text(project_text(i))
        files.append(str(path))
    runs = [timed([sys.executable, "-m", "cmp_plugin", "check", *files], env)[0] for _ in range(3)]
    print(f"\n## `cmp-render check` of {count} project files ({label})\n")
    print(f"median {statistics.median(runs):.2f} s over 3 runs (target <= 5 s)")




def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=21, help="runs per cold-start median")
    ap.add_argument("--files", type=int, default=1000, help="project files for the check benchmark")
    ap.add_argument("--before", metavar="REV", help="also measure the package as it was at this git revision")
    ap.add_argument("--skip", default="", help="comma-separated: inprocess,cold,scaling,memory,check")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    with tempfile.TemporaryDirectory(prefix="cmp-bench-") as tmp:
        tmp = Path(tmp)
        roots = [("this checkout", REPO)]
        if args.before:
            roots.insert(0, (f"before: {args.before}", checkout(args.before, tmp / "before")))
        for label, root in roots:
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "cmp_plugin")], check=True)
            cache = tempfile.mkdtemp(prefix="cache-", dir=tmp)
            env = child_env(root, cache)
            where = run([sys.executable, "-c", "import cmp_plugin; print(cmp_plugin.__file__)"], env).stdout.strip()
            assert Path(where).is_relative_to(root), f"{label}: the children import {where}"
            print(f"\n# {label}")
            if "inprocess" not in skip:
                in_process(label, env, 30)
            if "cold" not in skip:
                cold(label, env, args.runs)
            if "scaling" not in skip:
                scaling(label, env, tmp, 5)
            if "memory" not in skip:
                memory(label, env, tmp)
            if "check" not in skip:
                check_many(label, env, tmp, args.files)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
