"""`cmp-render diff OLD NEW`: the rendered difference between two versions of a project file.

Goldens: tests/golden/diff/<case>.diff, the base tests/fixtures/diff/shop.yaml against
tests/fixtures/diff/<case>/shop.yaml. UPDATE_GOLDEN=1 rewrites them.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from cliutil import REPO, run_cli

FIXTURES = REPO / "tests" / "fixtures" / "diff"
GOLDEN = REPO / "tests" / "golden" / "diff"
BASE = FIXTURES / "shop.yaml"
CASES = ["hash-bump", "new-app", "removed-database", "changed-domain"]


@pytest.fixture
def diff(cli):
    """cmp-render diff in this process: (code, out, err)."""
    return lambda *args: cli("diff", *args)


def hunk_lines(text: str, mark: str) -> list[str]:
    """The added (`+`) or removed (`-`) lines of the unified diffs, without file headers."""
    body = text.split("\n\n", 1)[1]
    return [line[1:] for line in body.splitlines() if line.startswith(mark) and not line.startswith(mark * 3 + " ")]


@pytest.mark.parametrize("case", CASES)
def test_golden_diff(diff, case):
    code, out, err = diff(BASE, FIXTURES / case / "shop.yaml")
    assert (code, err) == (1, "")
    golden = GOLDEN / f"{case}.diff"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(out)
    assert out == golden.read_text()


def test_a_hash_bump_is_one_image_line(diff):
    _, out, _ = diff(BASE, FIXTURES / "hash-bump" / "shop.yaml")
    assert out.splitlines()[:2] == ["1 changed, 0 added, 0 removed", "~ Deployment.apps shop/api-app"]
    assert hunk_lines(out, "-") == ["        image: registry.example.com/platform/shop-api:89e6c98d92887913cadf06b2adb97f26cde4849b"]
    assert hunk_lines(out, "+") == ["        image: registry.example.com/platform/shop-api:5d41402abc4b2a76b9719d911017c592ae6e2f3d"]


def test_a_new_application_appears_whole(diff, tmp_path):
    _, out, _ = diff(BASE, FIXTURES / "new-app" / "shop.yaml")
    summary = out.split("\n\n")[0].splitlines()
    assert summary[0] == "3 changed, 7 added, 0 removed"
    added = {line[2:] for line in summary if line.startswith("+ ")}
    assert added == {"NetworkPolicy.networking.k8s.io shop/allow-ingress-admin-app", "Secret shop/shop-admin-secret",
                     "Service shop/admin", "Deployment.apps shop/admin-app",
                     "WorkflowTemplate.argoproj.io shop/shop-admin-build-workflow-template",
                     "IngressRoute.traefik.io shop/shop-admin-admin-shop-acme-example-route",
                     "IngressRoute.traefik.io shop/shop-admin-webhook-route"}
    # an added object is its whole YAML, exactly as `cmp-render` prints it
    rendered = run_cli(str(FIXTURES / "new-app" / "shop.yaml")).stdout
    deployment = next(d for d in rendered.split("---\n") if "name: admin-app\n  namespace" in d)
    section = out.split("+++ b/Deployment.apps/shop/admin-app\n")[1].split("\n--- ")[0]
    assert "\n".join(line[1:] for line in section.splitlines()[1:]) + "\n" == deployment
    # the reverse is the same objects removed
    _, back, _ = diff(FIXTURES / "new-app" / "shop.yaml", BASE)
    assert back.splitlines()[0] == "3 changed, 0 added, 7 removed"
    assert {line[2:] for line in back.split("\n\n")[0].splitlines() if line.startswith("- ")} == added


def test_no_change_prints_nothing_and_exits_0(diff, tmp_path):
    copy = tmp_path / "shop.yaml"
    copy.write_text(BASE.read_text().replace("applications:", "# a comment changes nothing\napplications:"))
    assert diff(BASE, copy) == (0, "", "")
    assert diff("/dev/null", "/dev/null") == (0, "", "")


def test_dev_null_is_no_file(diff):
    code, out, _ = diff("/dev/null", BASE)
    objects = run_cli(str(BASE)).stdout.count("\n---\n") + 1
    assert code == 1 and out.splitlines()[0] == f"0 changed, {objects} added, 0 removed"
    code, out, _ = diff(BASE, "/dev/null")
    assert code == 1 and out.splitlines()[0] == f"0 changed, 0 added, {objects} removed"


def test_errors_of_both_sides_exit_2_with_nothing_on_stdout(diff, tmp_path):
    bad = tmp_path / "shop.yaml"
    bad.write_text(BASE.read_text().replace("port: 3000", "port: 99999"))
    code, out, err = diff(tmp_path / "missing.yaml", bad)
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"{tmp_path / 'missing.yaml'}: error: cannot read: No such file or directory",
                                f"{bad}:12:11: error: applications[0].port: 99999 is greater than the maximum of 65535"]
    code, out, err = diff(BASE)
    assert (code, out) == (2, "") and "the following arguments are required: NEW" in err


def test_secrets_are_never_resolved(diff, monkeypatch):
    """Placeholders are shown as they are, whatever Vault the environment names."""
    from cmp_plugin.secrets import resolve

    def refuse(*args, **kwargs):
        raise AssertionError("diff must never read Vault")

    monkeypatch.setattr(resolve, "resolve_documents", refuse)
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:9")
    monkeypatch.setenv("VAULT_TOKEN", "root")
    code, out, _ = diff(BASE, FIXTURES / "new-app" / "shop.yaml")
    assert code == 1
    assert "+  ADMIN_TOKEN: <path:kv/data/shop/apps/admin#ADMIN_TOKEN>" in out.splitlines()


def test_renders_with_the_given_settings_and_secrets_mode(diff, tmp_path):
    settings = tmp_path / "settings.yaml"
    settings.write_text("registry: harbor.lan:8443\nsecrets_mode: external-secrets\n")
    code, out, _ = diff("--settings", settings, BASE, FIXTURES / "new-app" / "shop.yaml")
    assert code == 1
    summary = out.split("\n\n")[0]
    assert "+ ExternalSecret.external-secrets.io shop/shop-admin-secret" in summary
    assert "Secret shop/shop-admin-secret" not in summary.replace("ExternalSecret", "")
    assert "+        image: harbor.lan:8443/platform/shop-admin:2fd4e1c67a2d28fced849ee1bb76e7391b93eb12" in out


def test_a_value_cannot_forge_diff_lines(diff, tmp_path):
    """A project value never starts a line of the report: control characters are refused by
    validation, and every line of a rendered object is indented, prefixed and ASCII-escaped YAML."""
    new = tmp_path / "shop.yaml"
    hostile = "+++ b/forged @@ -1 +1 @@ ``` <!-- --> caf\u00e9"
    new.write_text(BASE.read_text().replace("    port: 8080\n", f'    port: 8080\n    env:\n      NOTE: "{hostile}"\n', 1))
    code, out, _ = diff(BASE, new)
    assert code == 1 and out.isascii()
    assert [line for line in out.splitlines() if line.startswith(("+++", "---", "@@"))] == [
        "--- a/Deployment.apps/shop/api-app", "+++ b/Deployment.apps/shop/api-app",
        next(line for line in out.splitlines() if line.startswith("@@"))]
    assert '+          value: "+++ b/forged @@ -1 +1 @@ ``` <!-- --> caf\\xE9"' in out.splitlines()


# ---- git:REV:PATH

def git(cwd, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd), "GIT_AUTHOR_NAME": "dev",
           "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def gitops(tmp_path, monkeypatch):
    """A repository whose HEAD holds the base shop.yaml, the work tree the hash bump."""
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    repo = tmp_path / "gitops"
    (repo / "projects").mkdir(parents=True)
    git(repo, "init", "--quiet", "-b", "main")
    shutil.copy(BASE, repo / "projects" / "shop.yaml")
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "base")
    shutil.copy(FIXTURES / "hash-bump" / "shop.yaml", repo / "projects" / "shop.yaml")
    return repo


def test_git_revision_against_the_work_tree(diff, gitops, monkeypatch):
    _, expected, _ = diff(BASE, FIXTURES / "hash-bump" / "shop.yaml")
    monkeypatch.chdir(gitops)
    assert diff("git:HEAD:projects/shop.yaml", "projects/shop.yaml") == (1, expected, "")
    assert diff("git:main:./projects/shop.yaml", "git:HEAD:projects/shop.yaml") == (0, "", "")
    git(gitops, "commit", "--quiet", "-am", "bump")
    assert diff("git:HEAD~1:projects/shop.yaml", "git:HEAD:projects/shop.yaml") == (1, expected, "")


def test_git_sources_that_cannot_be_read(diff, gitops, monkeypatch, tmp_path):
    monkeypatch.chdir(gitops)
    cases = {
        "git:HEAD:projects/other.yaml": "cannot read: path 'projects/other.yaml' does not exist in 'HEAD'",
        "git:HEAD:projects": "cannot read: git cat-file HEAD:projects: bad file",
        "git:--output=/tmp/x:y": "a revision may not start with '-'",
        "git:HEAD": "expected git:REV:PATH, e.g. git:HEAD~1:projects/shop.yaml",
    }
    for spec, message in cases.items():
        code, out, err = diff(spec, "projects/shop.yaml")
        assert (code, out, err) == (2, "", f"{spec}: error: {message}\n")
    monkeypatch.chdir(tmp_path)  # not a repository
    code, out, err = diff("git:HEAD:projects/shop.yaml", "/dev/null")
    assert (code, out) == (2, "") and err.startswith("git:HEAD:projects/shop.yaml: error: cannot read: not a git repository")


def test_problems_of_a_git_revision_name_it(diff, gitops, monkeypatch):
    monkeypatch.chdir(gitops)
    (gitops / "projects" / "shop.yaml").write_text(BASE.read_text().replace("port: 3000", "port: 0"))
    git(gitops, "commit", "--quiet", "-am", "broken")
    code, out, err = diff("git:HEAD:projects/shop.yaml", "/dev/null")
    assert (code, out) == (2, "")
    assert err == "git:HEAD:projects/shop.yaml:12:11: error: applications[0].port: 0 is less than the minimum of 1\n"


def test_diff_through_the_command_line():
    result = run_cli("diff", str(BASE.relative_to(REPO)), str((FIXTURES / "hash-bump" / "shop.yaml").relative_to(REPO)))
    assert (result.returncode, result.stderr) == (1, "")
    assert result.stdout == (GOLDEN / "hash-bump.diff").read_text()
