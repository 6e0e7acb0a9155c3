"""The pre-commit manifest (.pre-commit-hooks.yaml): valid by pre-commit's own schema of hook
definitions, and its hook runs `cmp-render check` the way pre-commit would."""

from __future__ import annotations

import os
import re
import tomllib

import pytest

from cliutil import REPO

MANIFEST = REPO / ".pre-commit-hooks.yaml"


@pytest.fixture(scope="module")
def hooks() -> dict:
    clientlib = pytest.importorskip("pre_commit.clientlib", reason="pre-commit is not installed (pip install pre-commit)")
    # pre-commit's loader: MANIFEST_SCHEMA (an array of MANIFEST_HOOK_DICT), defaults filled in
    return {hook["id"]: hook for hook in clientlib.load_manifest(str(MANIFEST))}


def test_the_manifest_is_valid_for_pre_commit(hooks):
    hook = hooks["cmp-render-check"]
    assert list(hooks) == ["cmp-render-check"]
    assert hook["language"] == "python"  # pre-commit installs this repository with pip
    assert hook["entry"].split()[0] in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert (hook["pass_filenames"], hook["require_serial"]) == (False, True)


def test_the_hook_runs_on_project_files_only(hooks):
    files = re.compile(hooks["cmp-render-check"]["files"])
    assert all(files.search(p) for p in ("projects/shop.yaml", "projects/a-b.yml"))
    assert not any(files.search(p) for p in ("projects/sub/x.yaml", "other/projects/x.yaml", "projects/README.md",
                                             ".cmp-render/settings.yaml"))


@pytest.fixture
def run_hook(hooks, monkeypatch, capsys):
    """The hook's command as pre-commit builds it (entry, args; no file names), run in this process
    from the root of a gitops repository."""
    for key in list(os.environ):
        if key.startswith(("CMP_", "VAULT_", "AVP_", "ARGOCD_")):
            monkeypatch.delenv(key)
    from cmp_plugin import cli

    def run(root, args=None):
        hook = hooks["cmp-render-check"]
        argv = hook["entry"].split() + (hook["args"] if args is None else args)
        monkeypatch.chdir(root)
        code = cli.main(argv[1:])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_the_hook_checks_every_project_and_their_conflicts(run_hook, tmp_path):
    projects = tmp_path / "projects"
    projects.mkdir()
    app = "applications:\n  - name: web\n    image: nginx:1.27\n    port: 80\n    domains: [{d}]\n"
    (projects / "alpha.yaml").write_text(app.format(d="alpha.example.com"))
    (projects / "beta.yml").write_text(app.format(d="beta.example.com"))
    assert run_hook(tmp_path) == (0, "", "2 project files OK\n")
    # a commit that changes only beta.yml still sees alpha.yaml's domain
    (projects / "beta.yml").write_text(app.format(d="alpha.example.com"))
    code, out, err = run_hook(tmp_path)
    assert (code, out) == (1, "")
    assert err == ("projects/beta.yml:5:15: error: applications[0].domains[0]: domain 'alpha.example.com' is also "
                   "claimed by project 'alpha' (projects/alpha.yaml:5:15)\n")


def test_the_documented_args_use_the_platform_settings(run_hook, tmp_path):
    (tmp_path / "projects").mkdir()
    (tmp_path / "projects" / "tools.yaml").write_text("applications:\n  - {name: web, image: 'nginx:1.27'}\n")
    (tmp_path / ".cmp-render").mkdir()
    (tmp_path / ".cmp-render" / "settings.yaml").write_text("reserved_namespaces: [tools]\n")
    assert run_hook(tmp_path)[0] == 0
    documented = re.search(r"args: (\[.*\])", MANIFEST.read_text()).group(1)
    args = [a.strip() for a in documented.strip("[]").split(",")]
    assert args == ["--settings", ".cmp-render/settings.yaml", "projects"]
    code, _, err = run_hook(tmp_path, args)
    assert code == 1 and "reserved namespace pattern 'tools'" in err
