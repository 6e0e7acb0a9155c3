"""Renders Argo CD runs for a sequence of hash bumps, before and after the
`argocd.argoproj.io/manifest-generate-paths` annotation, and what each render streams to the sidecar.

1. A gitops repository in real git: N project files `projects/pNNNN.yaml` (two applications built
   from git and a database each), the seed's `chart/` and a README, committed once.
2. B commits, each the CI loop's hash bump of one application of one project, made with the code
   of `cmp-render bump` (`cmp_plugin.bump.bump_file`; projects picked at random with a fixed seed).
3. The Applications are those the real ApplicationSets make for that repository:
   `manifests/applicationset.yaml` (annotated with the project file), and the seed's
   (`shared/reference/seed-applicationset.yaml`) as it is and with the annotation docs/argocd.md
   gives seed users. After every commit (a webhook; `--refresh-every K` for polling that sees K
   commits at once) every Application is refreshed, and Argo CD's rule decides whether it renders
   (`tests/conformance/harness.py` `regenerates`: with the annotation and a full clone, only when
   `git diff --name-only` since the last compared revision names a file under its paths; without
   the annotation, or with a shallow clone, always: the new commit is a new cache key).
4. What one render streams (a tar.gz of the directory Argo CD sends, `harness.tgz`: Python's tar
   and zlib at Go's default level, close to Argo CD's bytes, not identical) at the last commit:
   the whole repository (Argo CD's default), without `.git` (`reposerver.plugin.tar.exclusions`),
   and with `reposerver.plugin.use.manifest.generate.paths`.

The initial render of every Application (N renders whatever the rule) is not counted. Counts, no
timings; a render costs about 150 ms of sidecar CPU (issue #12).

Usage: python3 benchmarks/render_counts.py [--projects 10,100,1000] [--bumps 50] [--refresh-every 1] [--seed 12]
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "conformance"))

import harness  # noqa: E402
import yaml  # noqa: E402

from cmp_plugin.bump import bump_file  # noqa: E402

OUR_APPSET = REPO / "manifests" / "applicationset.yaml"
SEED_APPSET = harness.SHARED / "reference" / "seed-applicationset.yaml"
SEED_ANNOTATION = "/projects/{{.path.filename}}"  # docs/argocd.md, for the seed's ApplicationSet


def project_text(i: int) -> str:
    return (f"# project {i}\napplications:\n"
            f"  - name: api\n    git:\n      owner: org{i % 17}\n      repo: p{i}-api\n      branch: main\n"
            f"      hash: {i:040x}\n      pushedAt: 2026-01-01T00:00:00Z\n    port: 8080\n"
            f"    domains:\n      - api.p{i}.example.com\n    secrets: [API_KEY]\n    uses: [db]\n"
            f"  - name: worker\n    git:\n      owner: org{i % 17}\n      repo: p{i}-worker\n      branch: main\n"
            f"      hash: ~\n    command: [/app/worker]\n"
            f"databases:\n  - name: db\n    type: postgres\n    version: \"16\"\n    port: 5432\n    size: 5Gi\n")


class Git:
    def __init__(self, path: Path):
        self.path = path
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(path.parent),
                    "GIT_AUTHOR_NAME": "ci", "GIT_AUTHOR_EMAIL": "ci@example.com",
                    "GIT_COMMITTER_NAME": "ci", "GIT_COMMITTER_EMAIL": "ci@example.com",
                    "GIT_CONFIG_NOSYSTEM": "1"}
        self.diffs: dict[tuple[str, str], list[str]] = {}
        self.diff_calls = 0

    def __call__(self, *args: str) -> str:
        run = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True, env=self.env)
        if run.returncode:
            raise SystemExit(f"git {' '.join(args)} failed:\n{run.stderr}")
        return run.stdout.strip()

    def changed_files(self, synced: str, revision: str) -> list[str]:
        """git diff --name-only, once per pair (the repo-server caches it too: SetGitFilesChanges)."""
        if (synced, revision) not in self.diffs:
            self.diff_calls += 1
            out = self("diff", "--name-only", f"{synced}..{revision}")
            self.diffs[synced, revision] = out.splitlines() if out else []
        return self.diffs[synced, revision]


def build_repository(root: Path, n: int) -> Git:
    (root / "projects").mkdir(parents=True)
    (root / "chart").mkdir()
    (root / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: project\nversion: 0.1.0\n")
    (root / "README.md").write_text("# projects-gitops\n\nOne file per project in projects/.\n")
    for i in range(n):
        (root / "projects" / f"p{i:04d}.yaml").write_text(project_text(i))
    git = Git(root)
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "projects")
    return git


def applications(repo: Path) -> dict[str, list[dict]]:
    ours = next(d for d in yaml.safe_load_all(OUR_APPSET.read_text()) if d and d["kind"] == "ApplicationSet")
    out = {"ours": harness.generate_applications(ours, repo)}
    if SEED_APPSET.exists():
        seed = yaml.safe_load(SEED_APPSET.read_text())
        out["seed"] = harness.generate_applications(seed, repo)
        annotated = copy.deepcopy(seed)
        meta = annotated["spec"]["template"]["metadata"]
        meta.setdefault("annotations", {})[harness.GENERATE_PATHS] = SEED_ANNOTATION
        out["seed + annotation"] = harness.generate_applications(annotated, repo)
    return out


def replay(n: int, bumps: int, refresh_every: int, seed: int, work: Path) -> dict:
    repo = work / f"gitops-{n}"
    git = build_repository(repo, n)
    apps = applications(repo)
    start = git("rev-parse", "HEAD")
    # (Application set, depth) -> the revision each Application was last compared at
    scenarios = [(name, 0) for name in apps] + [("ours", 1)]
    synced = {s: [start] * len(apps[s[0]]) for s in scenarios}
    renders = {s: 0 for s in scenarios}
    refreshes = 0
    rng = random.Random(seed)
    clock = 1_767_225_600  # 2026-01-01T00:00:00Z; every bump is a later push
    for b in range(1, bumps + 1):
        i = rng.randrange(n)
        sha = f"{b:08x}{i:032x}"
        pushed = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock + 60 * b))
        bump_file(str(repo / "projects" / f"p{i:04d}.yaml"), "api", sha, pushed_at=pushed)
        git("commit", "-q", "-am", f"p{i:04d}: deploy api {sha[:7]}")
        if b % refresh_every and b != bumps:
            continue
        head = git("rev-parse", "HEAD")
        refreshes += 1
        for (name, depth), revisions in synced.items():
            for k, app in enumerate(apps[name]):
                if harness.regenerates(app, revisions[k], head, git.changed_files, depth=depth):
                    renders[name, depth] += 1
                revisions[k] = head  # the compared revision moves on (Status.Sync.Revision)
    streams = {}
    app_paths = {"ours": "projects", "seed + annotation": "chart"}
    for name, source_path in app_paths.items():
        if name not in apps:
            continue
        value = harness.annotation(apps[name][0])
        repo_path = str(repo)
        app_path = harness.go_join(repo_path, source_path)
        for variant, generate_paths, exclusions in (("whole repository", False, ()),
                                                    ("whole repository, .git/* excluded", False, (".git/*",)),
                                                    ("generate paths", True, ()),
                                                    ("generate paths, .git/* excluded", True, (".git/*",))):
            root = harness.application_root_path(value, app_path, repo_path) if generate_paths else repo_path
            data, files, _, file_bytes = harness.tgz(root, exclusions)
            streams[name, variant] = (os.path.relpath(root, repo_path), files, file_bytes, len(data))
    git_bytes = sum(p.stat().st_size for p in (repo / ".git").rglob("*") if p.is_file())
    return {"renders": renders, "refreshes": refreshes, "apps": {k: len(v) for k, v in apps.items()},
            "streams": streams, "git_bytes": git_bytes, "diff_calls": git.diff_calls}


def kib(n: int) -> str:
    return f"{n / 1024:,.1f} KiB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--projects", default="10,100,1000", help="comma-separated numbers of project files")
    ap.add_argument("--bumps", type=int, default=50, help="hash-bump commits replayed (default 50)")
    ap.add_argument("--refresh-every", type=int, default=1, help="commits per refresh (1: a webhook per push)")
    ap.add_argument("--seed", type=int, default=12)
    args = ap.parse_args()
    sizes = [int(x) for x in args.projects.split(",")]
    results = {}
    with tempfile.TemporaryDirectory(prefix="cmp-render-counts-") as tmp:
        for n in sizes:
            t0 = time.perf_counter()
            results[n] = replay(n, args.bumps, args.refresh_every, args.seed, Path(tmp))
            print(f"N={n}: replayed in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    refreshes = next(iter(results.values()))["refreshes"]
    print(f"## Renders for {args.bumps} hash bumps ({refreshes} refreshes of every Application)\n")
    print("| projects | ours, before (no annotation) | ours, annotated | ours, annotated, shallow clone "
          "| seed's ApplicationSet | seed's + annotation |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, r in results.items():
        ren = r["renders"]
        before = r["refreshes"] * r["apps"]["ours"]  # without the annotation every refresh renders every app
        seed = [f"{ren[k, 0]:,}" if (k, 0) in ren else "n/a" for k in ("seed", "seed + annotation")]
        print(f"| {n:,} | {before:,} | {ren['ours', 0]:,} | {ren['ours', 1]:,} | {seed[0]} | {seed[1]} |")
    print("\n## What one render streams to the sidecar (last commit)\n")
    print("| projects | layout | what is sent | root sent | files | file bytes | tar.gz |")
    print("|---:|---|---|---|---:|---:|---:|")
    for n, r in results.items():
        for (layout, variant), (root, files, file_bytes, tgz) in r["streams"].items():
            print(f"| {n:,} | {layout} | {variant} | `{root}` | {files:,} | {kib(file_bytes)} | {kib(tgz)} |")
    print("\n## Bytes streamed for all renders of the replay (tar.gz)\n")
    print("| projects | before: every app, whole repo without .git | annotated: changed app, whole repo without .git "
          "| annotated + generate paths |")
    print("|---:|---:|---:|---:|")
    for n, r in results.items():
        s = r["streams"]
        before = r["refreshes"] * r["apps"]["ours"] * s["ours", "whole repository, .git/* excluded"][3]
        after = r["renders"]["ours", 0] * s["ours", "whole repository, .git/* excluded"][3]
        reduced = r["renders"]["ours", 0] * s["ours", "generate paths"][3]
        print(f"| {n:,} | {kib(before)} | {kib(after)} | {kib(reduced)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
