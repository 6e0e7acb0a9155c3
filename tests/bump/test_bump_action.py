"""examples/github-actions/update-config.yaml: valid, injection-free, and its scripts really work."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bump_samples import OLD, SHA, SHA2, SHOP

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "examples" / "github-actions" / "update-config.yaml"
T1, T2 = "2026-11-27T03:04:05Z", "2026-11-27T03:09:00Z"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def step(name: str) -> dict:
    (found,) = [s for s in workflow()["jobs"]["bump"]["steps"] if s.get("name") == name]
    return found


def test_no_expression_inside_any_script():
    for job in workflow()["jobs"].values():
        for s in job["steps"]:
            assert "${{" not in s.get("run", ""), s.get("name")


def test_payload_only_under_env():
    seen = []

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + [k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, path + [i])
        elif isinstance(node, str) and "github.event.client_payload" in node:
            seen.append(path)
            assert path[-2] == "env", path
            assert re.fullmatch(r"\$\{\{ github\.event\.client_payload\.[a-z_]+ \}\}", node), node

    walk(workflow(), [])
    assert sorted(p[-1] for p in seen) == ["APP", "PROJECT", "PUSHED_AT", "SHA"]
    code = [line for line in WORKFLOW.read_text().splitlines() if not line.lstrip().startswith("#")]
    assert sum("github.event.client_payload" in line for line in code) == 4


def test_actions_pinned_to_commits():
    text = WORKFLOW.read_text()
    uses = re.findall(r"uses: (\S+)(.*)", text)
    assert {u.split("@")[0] for u, _ in uses} == {"actions/checkout", "actions/setup-python"}
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), comment
        # releases that run on Node 24 (GitHub deprecates the Node 20 runtime for actions)
        first_node24 = {"actions/checkout": 5, "actions/setup-python": 6}[ref.split("@")[0]]
        assert int(comment.split("v")[1].split(".")[0]) >= first_node24, (ref, comment)


def test_trigger_permissions_concurrency():
    doc = workflow()
    assert doc[True] == {"repository_dispatch": {"types": ["cmp-bump"]}}  # YAML 1.1 reads `on` as true
    assert doc["permissions"] == {"contents": "write"}
    job = doc["jobs"]["bump"]
    assert "permissions" not in job
    assert job["concurrency"]["group"] == "config-update"
    assert job["concurrency"]["cancel-in-progress"] is False
    assert "@" in doc["env"]["CMP_PLUGIN_PIP"]  # pinned, not "latest"


def test_contract_stated_at_the_top():
    head = WORKFLOW.read_text().split("\nname:")[0]
    for needle in ('"event_type": "cmp-bump"', '"project"', '"app"', '"sha"', '"pushed_at"'):
        assert needle in head


# ---- the scripts themselves, run with bash as GitHub runs them

BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
GOOD = {"PROJECT": "shop", "APP": "api", "SHA": SHA, "PUSHED_AT": T1, "BRANCH": "main"}


def run_script(script: str, cwd: Path, env: dict, path_prefix: str = "") -> subprocess.CompletedProcess:
    file = cwd.parent / "step.sh"
    file.write_text(script)
    full = {"PATH": path_prefix + os.environ["PATH"], "HOME": str(cwd.parent), "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1", "PYTHONPATH": str(REPO), **env}
    return subprocess.run(BASH + [str(file)], cwd=cwd, env=full, capture_output=True, text=True, timeout=120)


BAD = [
    ("PROJECT", "$(touch pwned)"), ("PROJECT", "../../etc/passwd"), ("PROJECT", "Shop"), ("PROJECT", ""),
    ("PROJECT", "shop\nx"), ("PROJECT", "a" * 64), ("APP", "-api"), ("APP", "api;touch pwned"),
    ("APP", "`touch pwned`"), ("SHA", SHA.upper()), ("SHA", SHA[:39]), ("SHA", SHA + "\n"), ("SHA", "$(touch pwned)"),
    ("PUSHED_AT", "2026-1-1"), ("PUSHED_AT", "2026-11-27T03:04:05+0000"), ("PUSHED_AT", "2026-11-27T03:04:06"),
    ("PUSHED_AT", "2026-11-27T03:04:05 +09:00"), ("PUSHED_AT", "2026-11-27T03:04:05+09:00;touch pwned"),
    ("PUSHED_AT", T1 + "\ntouch pwned"),
    ("BRANCH", "main;touch pwned"),
]


@pytest.mark.parametrize("var,value", BAD, ids=[f"{v}={x!r}" for v, x in BAD])
def test_payload_check_rejects(tmp_path, var, value):
    work = tmp_path / "w"
    work.mkdir()
    run = run_script(step("Check the payload")["run"], work, {**GOOD, var: value})
    assert run.returncode == 1
    assert "::error::" in run.stdout
    if value:
        assert value not in run.stdout + run.stderr  # unchecked input is never echoed
    assert not any(tmp_path.rglob("pwned"))


def test_payload_check_accepts_the_contract(tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    for extra in ({}, {"PUSHED_AT": "2026-11-27T03:04:05.123Z"}, {"PROJECT": "a", "APP": "9" * 63},
                  {"PUSHED_AT": "2026-11-27T12:04:05+09:00"}, {"PUSHED_AT": "2026-11-26T22:04:05.5-05:00"}):
        run = run_script(step("Check the payload")["run"], work, {**GOOD, **extra})
        assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd.parent), "GIT_AUTHOR_NAME": "dev",
           "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def gitops(tmp_path):
    """A bare 'GitHub' remote holding projects/shop.yaml, a developer clone, and the Action's checkout."""
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    remote, dev, work = tmp_path / "remote.git", tmp_path / "dev", tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(remote))
    git(tmp_path, "clone", "--quiet", str(remote), str(dev))
    (dev / "projects").mkdir()
    (dev / "projects" / "shop.yaml").write_text(SHOP)
    git(dev, "add", ".")
    git(dev, "commit", "--quiet", "-m", "add shop")
    git(dev, "push", "--quiet", "origin", "HEAD:main")
    git(tmp_path, "clone", "--quiet", str(remote), str(work))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "cmp-render"  # what `pip install cmp-plugin` puts on PATH, from this checkout
    shim.write_text(f'#!/bin/sh\n[ "$1" = bump ] || exit 99\nshift\nexec "{sys.executable}" -m cmp_plugin.bump "$@"\n')
    shim.chmod(0o755)
    return {"remote": remote, "dev": dev, "work": work, "bin": f"{bin_dir}:"}


def run_bump_step(g, **env) -> subprocess.CompletedProcess:
    return run_script(step("Bump, commit and push")["run"], g["work"], {**GOOD, **env}, g["bin"])


def remote_file(g) -> str:
    return git(g["remote"], "show", "main:projects/shop.yaml")


def test_bump_step_commits_and_pushes(gitops):
    run = run_bump_step(gitops)
    assert run.returncode == 0, run.stdout + run.stderr
    log = git(gitops["remote"], "log", "-1", "--format=%an <%ae>%n%B", "main")
    assert log == (f"github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>\n"
                   f"bump shop/api to {SHA}\n\npushed at {T1}\n\n")
    assert git(gitops["remote"], "show", "--format=", "--name-only", "main") == "projects/shop.yaml\n"
    assert f"hash: {SHA}" in remote_file(gitops)


def test_bump_step_records_a_local_time_in_utc(gitops):
    """Argo writes the Workflow's creation time in the controller's time zone: compared as an
    instant, recorded as the schema's UTC form."""
    run = run_bump_step(gitops, PUSHED_AT="2026-11-27T12:04:05+09:00")
    assert run.returncode == 0, run.stdout + run.stderr
    api = yaml.safe_load(remote_file(gitops))["applications"][0]
    assert (api["name"], api["git"]["hash"], api["git"]["pushedAt"]) == ("api", SHA, "2026-11-27T03:04:05Z")
    older = run_bump_step(gitops, SHA=SHA2, PUSHED_AT="2026-11-26T22:04:04-05:00")  # 03:04:04Z
    assert older.returncode == 0 and "::warning title=not deployed::" in older.stdout
    newer = run_bump_step(gitops, SHA=SHA2, PUSHED_AT="2026-11-26T22:04:06-05:00")  # 03:04:06Z
    assert newer.returncode == 0, newer.stdout + newer.stderr
    api = yaml.safe_load(remote_file(gitops))["applications"][0]
    assert (api["git"]["hash"], api["git"]["pushedAt"]) == (SHA2, "2026-11-27T03:04:06Z")


def test_bump_step_retries_when_the_branch_moved(gitops):
    # Another bump lands after the Action's checkout: the first push is rejected.
    dev = gitops["dev"]
    text = (dev / "projects" / "shop.yaml").read_text().replace(f'hash: "{OLD}"', f'hash: "{SHA2}"')
    (dev / "projects" / "shop.yaml").write_text(text.replace("2026-11-01T10:00:00Z", "2026-11-02T00:00:00Z"))
    git(dev, "commit", "--quiet", "-am", "bump shop/web")
    git(dev, "push", "--quiet", "origin", "HEAD:main")
    run = run_bump_step(gitops)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "push rejected (attempt 1 of 5)" in run.stdout
    final = remote_file(gitops)
    assert f"hash: {SHA}" in final and f'hash: "{SHA2}"' in final  # both bumps kept
    assert len(git(gitops["remote"], "log", "--format=%s", "main").splitlines()) == 3


def test_bump_step_stale_build_is_a_warning_and_no_commit(gitops):
    assert run_bump_step(gitops, PUSHED_AT=T2).returncode == 0
    head = git(gitops["remote"], "rev-parse", "main")
    run = run_bump_step(gitops, SHA=SHA2, PUSHED_AT=T1)
    assert run.returncode == 0
    assert f"::warning title=not deployed::shop/api: {SHA2} (pushed {T1}) is older than the build in" in run.stdout
    assert git(gitops["remote"], "rev-parse", "main") == head
    again = run_bump_step(gitops, PUSHED_AT=T2)
    assert again.returncode == 0 and "shop/api is already at" in again.stdout
    assert git(gitops["remote"], "rev-parse", "main") == head


def test_bump_step_fails_on_an_error(gitops):
    run = run_bump_step(gitops, APP="nope")
    assert run.returncode == 1
    assert "no application named 'nope'" in run.stderr
    assert len(git(gitops["remote"], "log", "--format=%s", "main").splitlines()) == 1
    missing = run_bump_step(gitops, PROJECT="other")
    assert missing.returncode == 1 and "::error::projects/other.yaml does not exist" in missing.stdout
