"""examples/github-actions/review-projects.yaml: valid, least-privilege, injection-free, and its
scripts really work (run with bash as GitHub runs them, in a repository laid out like the pull
request's merge checkout, with `gh` replaced by a recorder)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "examples" / "github-actions" / "review-projects.yaml"
BUMP_WORKFLOW = REPO / "examples" / "github-actions" / "update-config.yaml"
FIXTURES = REPO / "tests" / "fixtures" / "diff"
MARKER = "<!-- cmp-render-diff -->"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps() -> list[dict]:
    return workflow()["jobs"]["review"]["steps"]


def step(name: str) -> dict:
    (found,) = [s for s in steps() if s.get("name") == name]
    return found


def test_trigger_and_least_privilege():
    doc = workflow()
    assert doc[True] == {"pull_request": {"paths": ["projects/**"]}}  # YAML 1.1 reads `on` as true
    assert doc["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert "permissions" not in doc["jobs"]["review"]
    checkout = next(s for s in steps() if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"] == {"fetch-depth": 2, "persist-credentials": False}
    names = [s.get("name") or s["uses"].split("@")[0] for s in steps()]
    assert names.index("Install cmp-render") < names.index("actions/checkout"), "install before the checkout"
    assert "cd \"$RUNNER_TEMP\"" in step("Install cmp-render")["run"]
    assert "@" in doc["env"]["CMP_PLUGIN_PIP"]


def test_no_expression_inside_any_script_and_only_known_ones_elsewhere():
    for s in steps():
        assert "${{" not in s.get("run", ""), s.get("name")
    code = "\n".join(line for line in WORKFLOW.read_text().splitlines() if not line.lstrip().startswith("#"))
    assert sorted(set(re.findall(r"\$\{\{(.*?)\}\}", code))) == [
        " !cancelled() && steps.settings.outcome == 'success' ", " github.event.pull_request.number ",
        " github.token "]
    assert step("Comment on the pull request")["env"] == {"GH_TOKEN": "${{ github.token }}"}  # that step only


def test_actions_pinned_like_the_bump_workflow():
    uses = re.findall(r"uses: (\S+)(.*)", WORKFLOW.read_text())
    pinned = dict(re.findall(r"uses: (\S+)(.*)", BUMP_WORKFLOW.read_text()))
    assert {u.split("@")[0] for u, _ in uses} == {"actions/checkout", "actions/setup-python"}
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
        assert pinned[ref] == comment  # the same releases, reviewed once


# ---- the scripts, run with bash as GitHub runs them

BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd.parent), "GIT_AUTHOR_NAME": "dev",
           "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


GH_STUB = r'''#!PYTHON
"""gh, recorded: `gh api` calls go to $GH_LOG; GET prints $GH_IDS; writes exit $GH_WRITE_EXIT."""
import json, os, sys
args = sys.argv[1:]
call = {"args": args}
for i, a in enumerate(args):
    if a == "-F" and args[i + 1].startswith("body=@"):
        call["body"] = open(args[i + 1][len("body=@"):]).read()
with open(os.environ["GH_LOG"], "a") as log:
    log.write(json.dumps(call) + "\n")
if "--method" not in args:
    sys.stdout.write(os.environ.get("GH_IDS", ""))
    sys.exit(0)
sys.exit(int(os.environ.get("GH_WRITE_EXIT", "0")))
'''


class Runner:
    """A merge checkout of a pull request (HEAD^1: the base branch) and the runner's files."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.work = tmp / "work"
        self.temp = tmp / "runner-temp"
        self.temp.mkdir()
        self.env_file, self.summary, self.gh_log = tmp / "github_env", tmp / "summary.md", tmp / "gh.log"
        for f in (self.env_file, self.summary, self.gh_log):
            f.write_text("")
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        (bin_dir / "cmp-render").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cmp_plugin "$@"\n')
        (bin_dir / "gh").write_text(GH_STUB.replace("PYTHON", sys.executable))
        for f in bin_dir.iterdir():
            f.chmod(0o755)
        self.path = f"{bin_dir}:{os.environ['PATH']}"
        self.extra: dict[str, str] = {}

    def env(self) -> dict:
        env = {"PATH": self.path, "HOME": str(self.tmp), "LC_ALL": "C", "GIT_CONFIG_NOSYSTEM": "1",
               "PYTHONPATH": str(REPO), "RUNNER_TEMP": str(self.temp), "GITHUB_ENV": str(self.env_file),
               "GITHUB_STEP_SUMMARY": str(self.summary), "GITHUB_REPOSITORY": "acme/gitops",
               "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "42", "PR_NUMBER": "7",
               "GH_LOG": str(self.gh_log), **workflow()["env"]}
        for line in self.env_file.read_text().splitlines():  # what earlier steps exported
            key, _, value = line.partition("=")
            env[key] = value
        return {**env, **self.extra}

    def run(self, name: str) -> subprocess.CompletedProcess:
        script = self.tmp / "step.sh"
        script.write_text(step(name)["run"])
        return subprocess.run(BASH + [str(script)], cwd=self.work, env=self.env(), capture_output=True, text=True,
                              timeout=300)

    def review(self) -> subprocess.CompletedProcess:
        """The steps up to the comment, as the job runs them; returns the rendering step."""
        settings = self.run("Platform settings from the base branch")
        assert settings.returncode == 0, settings.stdout + settings.stderr
        self.check = self.run("Check every project file")
        return self.run("Render the changes")

    @property
    def comment(self) -> str:
        return (self.temp / "review" / "comment.md").read_text()

    def gh_calls(self) -> list[dict]:
        return [json.loads(line) for line in self.gh_log.read_text().splitlines()]


def settings_text(**env: str) -> str:
    from cmp_plugin.settings import load_settings, settings_file_text

    return settings_file_text(load_settings(env=env))


@pytest.fixture
def pr(tmp_path):
    """Base: shop (the diff fixture), blog; the platform's settings. The pull request: a hash bump of
    shop, a new project, blog deleted, an invalid project, a README, and a settings change."""
    if not shutil.which("git") or not shutil.which("bash"):
        pytest.skip("git and bash are needed")
    r = Runner(tmp_path)
    work = r.work
    (work / "projects").mkdir(parents=True)
    (work / ".cmp-render").mkdir()
    git(work, "init", "--quiet", "-b", "main")
    shutil.copy(FIXTURES / "shop.yaml", work / "projects" / "shop.yaml")
    shutil.copy(REPO / "examples" / "projects" / "blog.yaml", work / "projects" / "blog.yaml")
    (work / ".cmp-render" / "settings.yaml").write_text(settings_text(CMP_REGISTRY="harbor.lan"))
    git(work, "add", ".")
    git(work, "commit", "--quiet", "-m", "base")
    git(work, "checkout", "--quiet", "-b", "pr")
    shutil.copy(FIXTURES / "hash-bump" / "shop.yaml", work / "projects" / "shop.yaml")
    (work / "projects" / "news.yaml").write_text(
        "applications:\n  - name: web\n    image: nginx:1.27\n    port: 80\n    domains: [news.example.com]\n"
        "    env: {BANNER: 'code ```` here'}\n")
    (work / "projects" / "bad.yaml").write_text("applications:\n  - name: web\n    image: nginx:1.27\n    port: 0\n")
    (work / "projects" / "README.md").write_text("not a project\n")
    git(work, "rm", "--quiet", "projects/blog.yaml")
    # the pull request also edits the CI settings: its own diff must not be rendered with them
    (work / ".cmp-render" / "settings.yaml").write_text(settings_text(CMP_REGISTRY="evil.example"))
    git(work, "add", ".")
    git(work, "commit", "--quiet", "-m", "change")
    git(work, "checkout", "--quiet", "main")
    git(work, "merge", "--quiet", "--no-ff", "-m", "Merge pull request #7", "pr")  # refs/pull/7/merge
    return r


def objects(project: Path) -> int:
    from cmp_plugin.pipeline import load_project, manifests
    from cmp_plugin.settings import load_settings

    settings = load_settings(env={"CMP_REGISTRY": "harbor.lan"})
    return len(manifests(load_project(str(project), settings=settings), settings))


def details(comment: str) -> dict[str, str]:
    """file -> the summary of its collapsed section."""
    return dict(re.findall(r"<details><summary><code>(.*?)</code>: (.*?)</summary>", comment))


def test_settings_come_from_the_base_branch(pr):
    result = pr.run("Platform settings from the base branch")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    (line,) = pr.env_file.read_text().splitlines()
    assert line == f"CMP_REVIEW_SETTINGS={pr.temp / 'cmp-settings.yaml'}"
    assert (pr.temp / "cmp-settings.yaml").read_text() == settings_text(CMP_REGISTRY="harbor.lan")


def test_missing_settings_fail_with_an_annotation(pr):
    git(pr.work, "rm", "--quiet", ".cmp-render/settings.yaml")
    git(pr.work, "commit", "--quiet", "-m", "no settings")
    git(pr.work, "commit", "--quiet", "--allow-empty", "-m", "merge")  # HEAD^1 now lacks them
    result = pr.run("Platform settings from the base branch")
    assert result.returncode == 1
    assert result.stdout.startswith("::error::.cmp-render/settings.yaml is missing on the base branch")


def test_check_annotates_the_invalid_file(pr):
    pr.review()
    assert pr.check.returncode == 1
    assert pr.check.stdout == ("::error file=projects/bad.yaml,line=4,col=11,title=applications[0].port::"
                               "0 is less than the minimum of 1\n")


def test_one_comment_collapsed_per_project(pr):
    result = pr.review()
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    comment = pr.comment
    assert comment.startswith(MARKER + "\n### Rendered changes\n")
    blog, news = objects(REPO / "examples" / "projects" / "blog.yaml"), objects(pr.work / "projects" / "news.yaml")
    assert details(comment) == {
        "projects/bad.yaml": "new project: does not render (see the annotations of the check)",
        "projects/blog.yaml": "project file deleted, so is its Application (the shipped ApplicationSet keeps the "
                              f"objects): 0 changed, 0 added, {blog} removed",
        "projects/news.yaml": f"new project: 0 changed, {news} added, 0 removed",
        "projects/shop.yaml": "1 changed, 0 added, 0 removed",
    }
    assert "1 other changed files under projects/ are not project files" in comment
    assert pr.summary.read_text() == comment
    # shop's section is exactly `cmp-render diff`, rendered with the base branch's settings
    shop = comment.split("<code>projects/shop.yaml</code>")[1].split("</details>")[0]
    body = shop.split("\n```diff\n")[1].split("\n```\n")[0] + "\n"
    expected = subprocess.run(
        [sys.executable, "-m", "cmp_plugin", "diff", "--settings", str(pr.temp / "cmp-settings.yaml"),
         "git:HEAD^1:projects/shop.yaml", "projects/shop.yaml"], cwd=pr.work, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)}).stdout
    assert body == expected
    assert "+        image: harbor.lan/platform/shop-api:5d41402abc4b2a76b9719d911017c592ae6e2f3d" in body
    assert "evil.example" not in comment
    # a deleted project lists its objects without their text
    deleted = comment.split("<code>projects/blog.yaml</code>")[1].split("</details>")[0]
    assert "- Deployment.apps blog/web-app\n" in deleted and "@@" not in deleted
    # bad.yaml: the problem, in a block of its own
    assert "projects/bad.yaml:4:11: error: applications[0].port: 0 is less than the minimum of 1" in comment


def test_a_value_cannot_close_the_code_fence(pr):
    """news.yaml holds four backticks in a row: its block is fenced with five, so the value stays code."""
    pr.review()
    news = pr.comment.split("<code>projects/news.yaml</code>")[1].split("</details>")[0]
    assert news.startswith(f": new project: 0 changed, {objects(pr.work / 'projects' / 'news.yaml')} added, "
                           "0 removed</summary>\n\n`````diff\n")
    assert news.rstrip("\n").endswith("\n`````")
    assert "code ```` here" in news


def test_hostile_file_names_are_neither_run_nor_printed(pr):
    names = ["$(touch pwned).yaml", "a b.yaml", "x\n::warning::forged.yaml", "Upper.yaml", "sub/dir.yaml"]
    git(pr.work, "checkout", "--quiet", "pr")
    for name in names:
        (pr.work / "projects" / name).parent.mkdir(exist_ok=True)
        (pr.work / "projects" / name).write_text("applications:\n  - {name: web, image: 'nginx:1.27'}\n")
    git(pr.work, "add", ".")
    git(pr.work, "commit", "--quiet", "-m", "names")
    git(pr.work, "checkout", "--quiet", "main")
    git(pr.work, "merge", "--quiet", "--no-ff", "-m", "merge again", "pr")
    result = pr.review()
    assert result.returncode == 0, result.stderr
    # the second merge's HEAD^1 is the first one: only these five files changed since
    assert "No project file changed.\n\n5 other changed files under projects/ are not project files" in pr.comment
    assert not any(pr.tmp.rglob("pwned"))
    assert "forged" not in pr.comment and "$(touch" not in pr.comment
    assert not any(line.startswith("::warning::forged") for line in pr.check.stdout.splitlines())


def test_a_long_diff_comments_the_object_lists_and_keeps_the_diff_in_the_summary(pr):
    git(pr.work, "checkout", "--quiet", "pr")
    apps = "".join(f"  - name: app{i}\n    git: {{owner: acme, repo: app{i}, branch: main, "
                   f"hash: 3f786850e387550fdab836ed7e6dc881de23001b}}\n    port: 8080\n" for i in range(12))
    (pr.work / "projects" / "big.yaml").write_text("applications:\n" + apps)
    git(pr.work, "add", ".")
    git(pr.work, "commit", "--quiet", "-m", "big")
    git(pr.work, "checkout", "--quiet", "main")
    git(pr.work, "merge", "--quiet", "--no-ff", "-m", "merge again", "pr")
    assert pr.review().returncode == 0
    comment, summary = pr.comment, pr.summary.read_text()
    assert len(comment) < 60000 < len(summary)
    assert details(comment) == details(summary)
    big = comment.split("<code>projects/big.yaml</code>")[1].split("</details>")[0]
    assert "+ Deployment.apps big/app11-app" in big and "@@" not in big
    assert "the [job summary](https://github.com/acme/gitops/actions/runs/42)" in comment
    assert "+++ b/Deployment.apps/big/app11-app" in summary


def test_the_comment_is_posted_once_then_updated(pr):
    pr.review()
    result = pr.run("Comment on the pull request")
    assert (result.returncode, result.stdout) == (0, "")
    get, post = pr.gh_calls()
    assert get["args"][:3] == ["api", "--paginate", "repos/acme/gitops/issues/7/comments"]
    assert 'startswith("<!-- cmp-render-diff -->")' in get["args"][4]
    assert post["args"][:4] == ["api", "--method", "POST", "repos/acme/gitops/issues/7/comments"]
    assert post["body"] == pr.comment
    pr.gh_log.write_text("")
    pr.extra["GH_IDS"] = "1234\n5678\n"
    assert pr.run("Comment on the pull request").returncode == 0
    _, patch = pr.gh_calls()
    assert patch["args"][:4] == ["api", "--method", "PATCH", "repos/acme/gitops/issues/comments/1234"]
    assert patch["body"] == pr.comment


def test_a_read_only_token_is_a_warning(pr):
    pr.review()
    pr.extra["GH_WRITE_EXIT"] = "1"
    result = pr.run("Comment on the pull request")
    assert result.returncode == 0
    assert result.stdout.startswith("::warning::could not write the comment")


def test_an_unexpected_comment_id_is_refused(pr):
    pr.review()
    pr.extra["GH_IDS"] = "12; rm -rf /\n"
    result = pr.run("Comment on the pull request")
    assert (result.returncode, result.stdout) == (1, "::error::unexpected comment id\n")
    assert [c["args"][1] for c in pr.gh_calls()] == ["--paginate"]
