"""The harness itself: it must read output, build env and match discovery like Argo CD does."""

from __future__ import annotations

import json

import pytest

import harness


@pytest.mark.parametrize("value,expected", [
    ("-f ../projects/$ARGOCD_APP_NAME.yaml", "-f ../projects/shop.yaml"),
    ("${ARGOCD_APP_NAME}-x", "shop-x"),
    ("$UNKNOWN|${UNKNOWN}|", "||"),
    ("cost: $$5", "cost: $5"),
    ("trailing $", "trailing $"),
    ("${}", ""),  # bad syntax is eaten
    ("${ARGOCD_APP_NAME", "ARGOCD_APP_NAME"),  # "${" eaten, the rest kept
    ("$1 $- $@", "  "),  # shell special names are looked up (and unknown)
    ("a$ b", "a$ b"),  # "$" not followed by a name stays
    ("$ARGOCD_APP_NAMEx", ""),  # the longest name, unknown
])
def test_env_values_expand_like_go_os_expand(value, expected):
    assert harness.argocd_envsubst(value, {"ARGOCD_APP_NAME": "shop"}) == expected


def test_request_env_order_and_param_naming():
    app = {"metadata": {"name": "shop", "namespace": "team-a"},
           "spec": {"project": "p", "destination": {"namespace": "shop"},
                    "source": {"repoURL": "r", "path": "projects", "targetRevision": "HEAD",
                               "plugin": {"name": "x", "env": [{"name": "lower_name", "value": "$ARGOCD_APP_NAME"}],
                                          "parameters": [{"name": "a-b", "string": "1"},
                                                         {"name": "list", "array": ["x", "y"]},
                                                         {"name": "helm.parameters", "map": {"image.tag": "v1"}}]}}}}
    env = harness.request_env(app)
    names = [k for k, _ in env]
    assert names[:3] == ["ARGOCD_APP_NAME", "ARGOCD_APP_NAMESPACE", "ARGOCD_APP_PROJECT_NAME"]
    env = dict(env)
    assert env["ARGOCD_APP_NAME"] == "team-a_shop"
    assert env["ARGOCD_ENV_lower_name"] == "team-a_shop"
    assert json.loads(env["ARGOCD_APP_PARAMETERS"])[0] == {"name": "a-b", "string": "1"}
    assert env["PARAM_A_B"] == "1" and env["PARAM_LIST_0"] == "x" and env["PARAM_LIST_1"] == "y"
    assert env["PARAM_HELM_PARAMETERS_IMAGE_TAG"] == "v1"
    no_plugin = dict(harness.request_env({"metadata": {"name": "a"}, "spec": {"source": {"path": "."}}}))
    assert "ARGOCD_APP_PARAMETERS" not in no_plugin and not any(k.startswith("ARGOCD_ENV_") for k in no_plugin)
    assert no_plugin["ARGOCD_APP_NAMESPACE"] == ""
    empty_block = dict(harness.request_env({"metadata": {"name": "a"}, "spec": {"source": {"plugin": {}}}}))
    assert empty_block["ARGOCD_APP_PARAMETERS"] == "null"


def test_sidecar_env_first_request_vars_win():
    env = harness.merge_env({"PATH": "/bin", "ARGOCD_APP_NAME": "sidecar"}, [("ARGOCD_APP_NAME", "req")])
    assert env == {"PATH": "/bin", "ARGOCD_APP_NAME": "req"}


@pytest.mark.parametrize("text,kinds", [
    (b"kind: A\n---\nkind: B\n", ["A", "B"]),
    (b"---\nkind: A\n--- # comment\n\n---\nnull\n---\nkind: B\n", ["A", "B"]),
    (b'{"kind": "A"}\n{"kind": "B"}\n', ["A", "B"]),
    (b'  {"kind": "List", "items": [{"kind": "A"}, {"kind": "B"}]}', ["A", "B"]),
    (b"kind: List\nitems:\n- kind: A\n", ["A"]),
    (b"", []),
    (b"\n", []),
])
def test_output_is_parsed_like_argocd(text, kinds):
    assert [o["kind"] for o in harness.parse_manifests(text)] == kinds


@pytest.mark.parametrize("text", [b"- kind: A\n", b"metadata: {name: x}\n", b"[1]\n", b"kind: A\n--- junk\n",
                                  b'{"kind": "A"} {', b"kind: [\n"])
def test_bad_output_is_refused_like_argocd(text):
    with pytest.raises(harness.OutputError):
        harness.parse_manifests(text)


def test_discovery_rules(tmp_path):
    h = harness.Harness(tmp_path)
    cwd = tmp_path / "app"
    (cwd / "sub").mkdir(parents=True)
    (cwd / "sub" / "x.cmp").write_text("")
    env = h.base_sidecar_env()

    def plugin(discover):
        return harness.Plugin(tmp_path / "p.yaml", {"metadata": {"name": "p"},
                                                    "spec": {"generate": {"command": ["true"]}, "discover": discover}})

    assert h.matches(plugin(None), cwd, env) == (True, None)
    assert h.matches(plugin({"fileName": "*.cmp"}), cwd, env) == (False, None)
    assert h.matches(plugin({"fileName": "sub/*.cmp"}), cwd, env) == (True, None)
    assert h.matches(plugin({"find": {"glob": "**/*.cmp"}}), cwd, env) == (True, None)
    assert h.matches(plugin({"find": {"command": ["sh", "-c", "echo yes"]}}), cwd, env) == (True, None)
    assert h.matches(plugin({"find": {"command": ["true"]}}), cwd, env) == (False, None)
    ok, err = h.matches(plugin({"find": {"command": ["false"]}}), cwd, env)
    assert not ok and "error running find command" in err


def test_template_evaluation_refuses_what_it_does_not_know():
    with pytest.raises(harness.TemplateError):
        harness.render_template("{{ .path.filename | upper }}", {"path": {"filename": "a"}})
    with pytest.raises(harness.TemplateError):
        harness.render_template("{{ .path.nope }}", {"path": {}})
    assert harness.render_template('{{ .a | trimSuffix ".yaml" }}', {"a": "x.yaml"}) == "x"
    assert harness.normalize("My_Project.YAML") == "my-project.yaml"


# --------------------------------------------------------------------------- Argo CD's path rules

REPO_ROOT = "/tmp/_argocd-repo/7a58c52a-0030-4fd9-8cc5-35b2d8b4e731"


@pytest.mark.parametrize("annotation,app_path,expected", [
    # argo-cd reposerver/repository/utils_test.go TestGetCommonRootPath, case for case
    (".", "/services/helloworld", "/services/helloworld"),
    ("../../overlays;.", "/services/helloworld", ""),
    ("/services;.", "/services/helloworld", "/services"),
    ("../../;..;.", "/services/team/helloworld", "/services"),
    ("", "/services/helloworld", ""),
    ("./manifests", "/services/team/helloworld", "/services/team/helloworld"),
    ("/services/shared/*-secret.yaml", "/services/helloworld", "/services"),
    ("../*", "/services/helloworld", "/services"),
    ("//services/shared/*-secret.yaml", "/services/helloworld", "/services"),
    # ours and the seed's layouts
    ("/projects/shop.yaml", "/projects", "/projects"),
    ("shop.yaml", "/projects", "/projects"),
    ("/projects/shop.yaml", "/chart", ""),
    ("../projects/shop.yaml", "/chart", ""),
    ("../../../../projects/shop.yaml", "/chart", ""),  # `..` stops at the repository
    # Go's sticky `disjoint`: after a divergence, a parent path no longer shortens the root
    ("/a/c;/", "/a/b", "/a"),
])
def test_common_root_path_like_argocd(annotation, app_path, expected):
    assert harness.application_root_path(annotation, REPO_ROOT + app_path, REPO_ROOT) == REPO_ROOT + expected


def test_annotation_paths_follow_symlinks_inside_the_repository(tmp_path):
    repo = tmp_path / "repo"
    (repo / "projects").mkdir(parents=True)
    (repo / "chart").mkdir()
    (repo / "alias").symlink_to("projects")
    (repo / "abs").symlink_to("/projects")  # absolute: resolved from the repository's root
    (repo / "out").symlink_to("../../..")
    root = str(repo)
    assert harness.annotation_paths("/alias/a.yaml;/abs/b.yaml;/out/c.yaml", root + "/chart", root) == [
        root + "/projects/a.yaml", root + "/projects/b.yaml", root + "/c.yaml"]
    assert harness.application_root_path("/alias/a.yaml", root + "/projects", root) == root + "/projects"


@pytest.mark.parametrize("annotation,expected", [
    # argo-cd util/app/path/path_test.go Test_GetAppRefreshPaths (single source)
    (None, []),
    (".;dev/deploy;other/path", ["source/path", "source/path/dev/deploy", "source/path/other/path"]),
    (".;;", ["source/path"]),
    ("/fullpath/deploy;other/path", ["fullpath/deploy", "source/path/other/path"]),
    (".; dev/deploy; other/path", ["source/path", "source/path/dev/deploy", "source/path/other/path"]),
    (" /fullpath/deploy ; other/path ", ["fullpath/deploy", "source/path/other/path"]),
    (" ; ; . ; ", ["source/path"]),
])
def test_refresh_paths_like_argocd(annotation, expected):
    app = {"metadata": {"annotations": {harness.GENERATE_PATHS: annotation} if annotation is not None else {}},
           "spec": {"source": {"path": "source/path"}}}
    assert harness.refresh_paths(app) == expected


@pytest.mark.parametrize("paths,changed,expected", [
    (["source/path/deploy"], ["source/path/deploy/app.yaml"], True),  # webhook_test.go TestHandleEvent
    (["source/path/manifests"], ["source/path/other/app.yaml"], False),
    (["source/path/manifests", "source/path/dev/deploy"], ["source/path/dev/deploy/app.yaml"], True),
    ([], ["x"], True),  # no paths: always
    (["a"], [], True),  # no list of changed files: always
    (["projects/shop.yaml"], ["projects/shop.yaml"], True),
    (["projects/shop.yaml"], ["projects/shopping.yaml", "projects/shop.yml", "README.md"], False),
    (["projects"], ["projects/shop.yaml"], True),
    (["projects"], ["projects-old/shop.yaml"], False),
    (["shared/*-secret.yaml"], ["shared/db-secret.yaml"], True),  # high_availability.md's glob
    (["shared/*-secret.yaml"], ["shared/sub/db-secret.yaml"], False),
    (["/"], ["anything"], True),
])
def test_app_files_have_changed_like_argocd(paths, changed, expected):
    assert harness.app_files_have_changed(paths, changed) is expected


@pytest.mark.parametrize("pattern,name,expected", [
    ("*", "abc", True), ("*", "a/b", False), ("a?c", "abc", True), ("a?c", "a/c", False),
    ("[a-c]x", "bx", True), ("[^a-c]x", "dx", True), ("[^a-c]x", "bx", False), ("[\\]]", "]", True),
    (".git/*", ".git/HEAD", True), (".git/*", ".git", False), (".git/*", ".git/objects/ab", False),
    ("a\\*b", "a*b", True), ("a\\*b", "axb", False),
])
def test_go_match(pattern, name, expected):
    assert harness.go_match(pattern, name) is expected


@pytest.mark.parametrize("pattern", ["[", "[]", "[a-", "a\\", "[^]"])
def test_go_match_refuses_bad_patterns(pattern):
    with pytest.raises(harness.BadPattern):
        harness.go_match(pattern, "a")


def test_stream_sends_the_root_with_exclusions_and_refuses_escaping_symlinks(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".git" / "objects").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref\n")
    (repo / ".git" / "objects" / "x").write_text("blob\n")
    (repo / "projects").mkdir()
    (repo / "projects" / "a.yaml").write_text("a\n")
    (repo / "projects" / "b.yaml").symlink_to("a.yaml")
    (repo / "README.md").write_text("r\n")
    dst = tmp_path / "req"
    dst.mkdir()
    sent = harness.stream_repository(str(repo), "projects", "", str(dst), generate_paths=True, exclusions=[".git/*"])
    assert (sent.root, sent.app_rel_path, sent.files) == (".", "projects", 2)
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*")) == [
        ".git", "README.md", "projects", "projects/a.yaml", "projects/b.yaml"]
    assert (dst / "projects" / "b.yaml").readlink().as_posix() == "a.yaml"
    assert oct((dst / "projects" / "a.yaml").stat().st_mode & 0o777) == "0o644"
    dst2 = tmp_path / "req2"
    dst2.mkdir()
    sent = harness.stream_repository(str(repo), "projects", "/projects/a.yaml", str(dst2), generate_paths=True)
    assert (sent.root, sent.app_rel_path, sent.files, sent.entries) == ("projects", ".", 1, 3)  # symlinks are no files
    (repo / "projects" / "evil").symlink_to("../../outside")
    with pytest.raises(harness.StreamError, match="illegal filepath in symlink"):
        harness.stream_repository(str(repo), "projects", "", str(tmp_path / "req3"), generate_paths=False)
    with pytest.raises(harness.StreamError, match="app path does not exist"):
        harness.stream_repository(str(repo), "nope", "", str(tmp_path / "req4"), generate_paths=False)
