"""The `argocd.argoproj.io/manifest-generate-paths` annotation: which commits make Argo CD render an
Application again, and what it streams to the sidecar with the repo-server setting
`reposerver.plugin.use.manifest.generate.paths` (harness.py reproduces both; docs/argocd.md,
"Render only what changed")."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import harness
from support import keep, with_params

PROJECTS = sorted(p.name for p in (harness.GITOPS / "projects").iterdir())
NAMES = sorted(re.sub(r"\.ya?ml$", "", p) for p in PROJECTS)
SEED_NAMES = [n for n in NAMES if n != "india"]  # the seed's generator reads *.yaml only
ERROR_LINE = re.compile(r"^(\S+):(\d+):(\d+): error: ")
# What docs/argocd.md tells seed users to add to their ApplicationSet's template.metadata.
SEED_ANNOTATION = "/projects/{{.path.filename}}"


def seed_with_annotation(app: dict, value: str | None = None) -> dict:
    """A seed Application as the seed's ApplicationSet makes it once SEED_ANNOTATION is added."""
    app = copy.deepcopy(app)
    name = app["metadata"]["name"]
    rendered = harness.render_template(SEED_ANNOTATION, {"path": {"filename": f"{name}.yaml"}})
    app["metadata"].setdefault("annotations", {})[harness.GENERATE_PATHS] = rendered if value is None else value
    return app


@pytest.fixture
def reduced(tmp_path) -> harness.Harness:
    """A repo-server with reposerver.plugin.use.manifest.generate.paths on (and .git excluded)."""
    return harness.Harness(tmp_path, generate_paths=True, tar_exclusions=(".git/*",))


def project_file(name: str) -> str:
    return next(p for p in PROJECTS if re.sub(r"\.ya?ml$", "", p) == name)


# --------------------------------------------------------------------------- the annotation

def test_each_application_is_annotated_with_exactly_its_project_file(our_apps, seed_apps):
    for name, app in our_apps.items():
        assert harness.annotation(app) == f"/projects/{project_file(name)}"
        assert harness.refresh_paths(app) == [f"projects/{project_file(name)}"]
    # The seed's ApplicationSet, unchanged, sets none: its Applications render on every commit.
    assert not any(harness.annotation(app) for app in seed_apps.values())
    assert harness.refresh_paths(seed_with_annotation(seed_apps["alpha"])) == ["projects/alpha.yaml"]


def test_appproject_applications_are_annotated_with_their_chart():
    """They render the chart from the platform repository with inline values: the chart is their
    only input, so a commit elsewhere in that repository (docs, other manifests) renders none."""
    from support import load_yaml_docs

    appset = next(d for d in load_yaml_docs(harness.REPO / "manifests" / "appprojects.yaml")
                  if d["kind"] == "ApplicationSet")
    for app in harness.generate_applications(appset):
        source = app["spec"]["source"]
        assert set(source["helm"]) == {"valuesObject"}, "values from files would be inputs too"
        paths = harness.refresh_paths(app)
        assert paths == [source["path"]] == ["manifests/charts/project-appproject"]
        assert harness.app_files_have_changed(paths, [f"{source['path']}/templates/appproject.yaml"])
        assert not harness.app_files_have_changed(paths, ["docs/argocd.md", "manifests/applicationset.yaml"])


@pytest.mark.parametrize("name", NAMES)
def test_the_annotated_file_is_all_a_render_reads(reference, reduced, our_apps, name):
    """Delete everything the annotation does not name (other projects, chart/, README): the
    render is the same, so a commit to any other file cannot change it."""
    app = keep(our_apps[name])
    full = reference.run(our_apps[name])
    assert full.ok, full.error
    keep_files = {f"projects/{project_file(name)}"}

    def strip(root: Path) -> None:
        for path in sorted(root.rglob("*"), reverse=True):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and rel not in keep_files:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()) and rel != "projects":
                path.rmdir()

    result = reduced.run(app, mutate=strip)
    assert result.ok, result.error
    assert result.stdout == full.stdout
    assert (result.streamed.root, result.streamed.files) == ("projects", 1)


def test_a_commit_re_renders_only_the_application_of_the_changed_file(tmp_path, our_apps, seed_apps):
    """A hash bump, as the CI loop commits it, on a real git repository: Argo CD's rule renders
    one Application, not all of them; without the annotation, or with a shallow clone, all."""
    from cmp_plugin.bump import bump_file

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "gitops"
    shutil.copytree(harness.GITOPS, repo)

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                              env={"GIT_AUTHOR_NAME": "ci", "GIT_AUTHOR_EMAIL": "ci@example.com",
                                   "GIT_COMMITTER_NAME": "ci", "GIT_COMMITTER_EMAIL": "ci@example.com",
                                   "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}).stdout.strip()

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "projects")
    before = git("rev-parse", "HEAD")
    bump_file(str(repo / "projects" / "alpha.yaml"), "api", "1" * 40, pushed_at="2026-01-01T00:00:00Z")
    git("commit", "-q", "-am", "alpha: deploy 1111111")
    after = git("rev-parse", "HEAD")

    def diff(synced: str, revision: str) -> list[str]:
        return git("diff", "--name-only", f"{synced}..{revision}").splitlines()

    assert diff(before, after) == ["projects/alpha.yaml"]
    rendered = {n for n, a in our_apps.items() if harness.regenerates(a, before, after, diff)}
    assert rendered == {"alpha"}
    assert not any(harness.regenerates(a, after, after, diff) for a in our_apps.values())
    assert {n for n, a in our_apps.items() if harness.regenerates(a, before, after, diff, depth=1)} == set(our_apps)
    assert {n for n, a in seed_apps.items() if harness.regenerates(a, before, after, diff)} == set(seed_apps)
    annotated = {n: seed_with_annotation(a) for n, a in seed_apps.items()}
    assert {n for n, a in annotated.items() if harness.regenerates(a, before, after, diff)} == {"alpha"}
    # A directory as the annotation (`.` = projects/) would render every project on every bump.
    wide = copy.deepcopy(our_apps["bravo"])
    wide["metadata"]["annotations"][harness.GENERATE_PATHS] = "."
    assert harness.regenerates(wide, before, after, diff)


# --------------------------------------------------------------------------- the reduced tree

@pytest.mark.parametrize("name", NAMES)
def test_our_layout_renders_the_same_from_the_reduced_tree(reference, reduced, our_apps, name):
    app = keep(our_apps[name])
    result = reduced.run(app)
    assert result.ok, result.error
    # Argo CD sends projects/ only, and the cwd is its root.
    assert (result.streamed.root, result.streamed.app_rel_path) == ("projects", ".")
    assert result.streamed.files == len(PROJECTS)
    assert result.stdout == reference.run(our_apps[name]).stdout


@pytest.mark.parametrize("name", SEED_NAMES)
def test_seed_layout_renders_the_same_from_the_reduced_tree(reference, reduced, seed_apps, name):
    app = keep(seed_with_annotation(seed_apps[name]))
    result = reduced.run(app)
    assert result.ok, result.error
    # chart/ and projects/x.yaml have only the repository's root in common: nothing is saved.
    assert (result.streamed.root, result.streamed.app_rel_path) == (".", "chart")
    assert result.stdout == reference.run(seed_apps[name]).stdout


def test_without_the_annotation_the_whole_repository_is_sent(reduced, seed_apps):
    result = reduced.run(keep(seed_apps["alpha"]))
    assert result.ok, result.error
    assert result.streamed.root == "."


@pytest.mark.parametrize("value", ["alpha.yaml", "./alpha.yaml;/projects/alpha.yaml", "/projects/alpha.yaml"])
def test_relative_and_absolute_annotations_send_the_same_tree(reduced, our_apps, value):
    app = copy.deepcopy(keep(our_apps["alpha"]))
    app["metadata"]["annotations"][harness.GENERATE_PATHS] = value
    result = reduced.run(app)
    assert result.ok, result.error
    assert result.streamed.root == "projects"


@pytest.mark.parametrize("layout", ["ours", "seed"])
def test_reduced_tree_errors_name_the_file_as_the_repository_does(reduced, our_apps, seed_apps, layout):
    app = keep(our_apps["alpha"] if layout == "ours" else seed_with_annotation(seed_apps["alpha"]))

    def break_it(root: Path) -> None:
        (root / "projects" / "alpha.yaml").write_text(
            "applications:\n  - name: Api\n    git: {owner: o, repo: r, branch: main}\n    port: 70000\n")

    result = reduced.run(app, mutate=break_it)
    assert result.returncode == 1 and result.stdout == b""
    lines = result.stderr.strip().splitlines()
    assert lines and all(ERROR_LINE.match(line) and line.startswith("projects/alpha.yaml:") for line in lines), \
        result.stderr
    assert any(":4:11: error: applications[0].port:" in line for line in lines), result.stderr


def test_reduced_tree_missing_file_names_the_repository_path(reduced, our_apps):
    result = reduced.run(with_params(keep(our_apps["alpha"]), file="nope.yaml"))
    assert result.returncode == 1 and result.stdout == b""
    assert ("project file projects/nope.yaml does not exist in the repository "
            "(the application's directory is projects)") in result.stderr


def test_reduced_tree_default_file_from_the_application_name(reduced, our_apps):
    app = copy.deepcopy(keep(our_apps["alpha"]))
    plugin = app["spec"]["source"]["plugin"]
    plugin["parameters"] = [p for p in plugin["parameters"] if p["name"] not in ("file", "project")]
    result = reduced.run(app)
    assert result.ok, result.error
    assert result.streamed.root == "projects"


def test_seed_annotation_without_the_project_file_says_what_to_add(reduced, seed_apps):
    """`.` (chart/) alone: Argo CD sends chart/ only, and ../projects/alpha.yaml is not there."""
    app = keep(seed_with_annotation(seed_apps["alpha"], "."))
    result = reduced.run(app)
    assert result.streamed.root == "chart"
    assert result.returncode == 1 and result.stdout == b""
    assert ("'../projects/alpha.yaml' is projects/alpha.yaml in the repository, but Argo CD sent only chart/"
            in result.stderr)
    assert "add /projects/alpha.yaml to the Application's annotation argocd.argoproj.io/manifest-generate-paths" \
        in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_path_outside_the_repository_is_still_refused_as_such(reduced, our_apps):
    result = reduced.run(with_params(keep(our_apps["alpha"]), file="../../etc/x.yaml"))
    assert result.returncode == 1 and "points outside the repository" in result.stderr


def test_discover_prints_the_repository_path_from_the_reduced_tree(reduced, our_apps):
    root, cwd, streamed = reduced.stream(our_apps["alpha"])
    try:
        env = harness.merge_env(reduced.base_sidecar_env(), harness.request_env(our_apps["alpha"]))
        r = reduced.exec(["cmp-render", "discover"], cwd, env)
        assert r.returncode == 0 and r.stdout == b"projects/alpha.yaml\n"
    finally:
        shutil.rmtree(root)


def test_the_docs_give_seed_users_the_annotation_the_tests_use():
    docs = (harness.REPO / "docs" / "argocd.md").read_text()
    assert f"argocd.argoproj.io/manifest-generate-paths: '{SEED_ANNOTATION}'" in docs
