"""`cmp-render generate` run the way argocd-cmp-server runs it (see harness.py)."""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import socket
import time
from pathlib import Path

import pytest

import harness
from loopback import Silent
from support import SIDECARS, keep, require_schemas, sidecar_bindings, validation_errors, with_env, with_params

PROJECTS = sorted(p.name for p in (harness.GITOPS / "projects").iterdir())
NAMES = sorted(re.sub(r"\.ya?ml$", "", p) for p in PROJECTS)
ERROR_LINE = re.compile(r"^(\S+):(\d+):(\d+): error: ")


def direct_render(project_file: str, project: str | None = None) -> str:
    """What the lead's pipeline renders for the file (secrets kept), for comparison."""
    from cmp_plugin.pipeline import render_file

    cwd = os.getcwd()
    os.chdir(harness.GITOPS)
    try:
        return render_file(f"projects/{project_file}", project=project, secrets="keep")
    finally:
        os.chdir(cwd)


def assert_failed_cleanly(result: harness.Result, *patterns: str) -> None:
    assert result.returncode not in (0, None), f"expected a failure, got exit {result.returncode}"
    assert result.stdout == b"", "a failed run must print nothing on stdout"
    assert "Traceback" not in result.stderr
    for pattern in patterns:
        assert re.search(pattern, result.stderr), f"{pattern!r} not in stderr:\n{result.stderr}"


def assert_rendered(result: harness.Result, project: str) -> None:
    assert result.ok, result.error
    assert result.stdout.strip(), "success with empty output"
    assert result.objects, "success with zero objects"
    for obj in result.objects:
        assert obj.get("apiVersion") and obj["metadata"].get("name"), obj
        ns = obj["metadata"].get("namespace")
        assert ns in (None, project), f"{obj['kind']}/{obj['metadata']['name']} in namespace {ns}"


# --------------------------------------------------------------------------- both layouts

def test_the_applicationsets_cover_every_sample_project(our_apps, seed_apps):
    assert sorted(our_apps) == NAMES
    assert all(a["spec"]["source"]["plugin"]["name"] == "cmp-plugin-v1" for a in our_apps.values())
    assert all(a["spec"]["project"] == name for name, a in our_apps.items()), "no `project: default`"
    # The seed's generator skips .yml files (and would keep ".yml" in the name if it matched them).
    assert sorted(seed_apps) == [n for n in NAMES if n != "india"] and "india" in our_apps


@pytest.mark.parametrize("name", NAMES)
def test_our_layout_renders_what_the_pipeline_renders(reference, our_apps, name):
    app = keep(our_apps[name])
    assert app["spec"]["source"]["path"] == "projects"
    result = reference.run(our_apps[name])
    assert_rendered(result, name)
    file = next(p for p in PROJECTS if re.sub(r"\.ya?ml$", "", p) == name)
    assert result.stdout.decode() == direct_render(file, name)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "india"])
def test_seed_layout_renders_the_same_manifests(reference, our_apps, seed_apps, name):
    seed = keep(seed_apps[name])
    assert seed["spec"]["source"]["path"] == "chart"
    assert seed["spec"]["source"]["plugin"]["name"] == "argocd-vault-plugin-helm"
    assert "HELM_ARGS" in [e["name"] for e in seed["spec"]["source"]["plugin"]["env"]]
    result = reference.run(seed_apps[name])
    assert_rendered(result, name)
    ours = reference.run(our_apps[name])
    assert result.stdout == ours.stdout


def test_seed_layout_with_a_yml_file_fails_with_a_clear_message(cmp, seed_apps):
    """What the seed's template makes of india.yml: name, namespace and project `india.yml`."""
    app = with_env(keep(seed_apps["alpha"]), HELM_ARGS="-f ../projects/india.yml --set project=india.yml")
    result = cmp.run(app)
    assert_failed_cleanly(result, r"project name 'india\.yml' must be a lowercase RFC 1123 label")


def test_seed_layout_with_the_one_line_change_uses_our_plugin(cmp, seed_apps):
    """docs/argocd.md: plugin.name argocd-vault-plugin-helm -> cmp-plugin-v1, HELM_ARGS unchanged."""
    app = keep(seed_apps["alpha"])
    app["spec"]["source"]["plugin"]["name"] = "cmp-plugin-v1"
    assert_rendered(cmp.run(app), "alpha")


def test_the_plugin_name_must_match_the_socket_name(cmp, our_apps):
    app = keep(our_apps["alpha"])
    app["spec"]["source"]["plugin"]["name"] = "cmp-plugin"  # the version suffix forgotten
    result = cmp.run(app)
    assert not result.ok and "could not find cmp-server plugin" in result.error


# --------------------------------------------------------------------------- failures

@pytest.mark.parametrize("layout", ["ours", "seed"])
def test_a_bad_project_file_fails_with_file_line_col_and_no_stdout(cmp, our_apps, seed_apps, layout):
    app = keep(our_apps["alpha"] if layout == "ours" else seed_apps["alpha"])

    def break_it(root: Path) -> None:
        (root / "projects" / "alpha.yaml").write_text(
            "applications:\n  - name: Api\n    git: {owner: o, repo: r, branch: main}\n    port: 70000\n")

    result = cmp.run(app, mutate=break_it)
    assert_failed_cleanly(result)
    lines = result.stderr.strip().splitlines()
    assert lines and all(ERROR_LINE.match(line) for line in lines), result.stderr
    assert all(line.startswith("projects/alpha.yaml:") for line in lines)
    assert any(":4:11: error: applications[0].port:" in line for line in lines), result.stderr


def test_yaml_syntax_errors_are_readable(cmp, our_apps):
    def break_it(root: Path) -> None:
        (root / "projects" / "alpha.yaml").write_text("applications:\n  - name: api\n   port: [\n")

    result = cmp.run(keep(our_apps["alpha"]), mutate=break_it)
    assert_failed_cleanly(result, r"^projects/alpha\.yaml:\d+:\d+: error: ")


@pytest.mark.parametrize("content", ["", "{}\n", "applications: []\ndatabases: []\n", "# nothing\n"])
def test_success_never_has_empty_output(cmp, our_apps, content):
    def write(root: Path) -> None:
        (root / "projects" / "alpha.yaml").write_text(content)

    result = cmp.run(keep(our_apps["alpha"]), mutate=write)
    if result.returncode == 0:
        assert result.ok and result.objects, "exit 0 must come with at least one object"
    else:
        assert_failed_cleanly(result, r"error: ")


def test_the_plugin_refuses_to_print_empty_output(monkeypatch, capsys, tmp_path):
    """Whatever the renderer returns, generate never exits 0 with nothing on stdout."""
    from cmp_plugin import argocd, pipeline

    (tmp_path / "shop.yaml").write_text("{}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARGOCD_APP_NAME", "shop")
    monkeypatch.setenv("ARGOCD_APP_PARAMETERS", "null")
    for empty in ("", "\n", "---\n", "  \n", "---\nnull\n---\n"):
        monkeypatch.setattr(pipeline, "render_file", lambda *a, _e=empty, **k: _e)
        assert argocd.main("generate", []) == 1
        out = capsys.readouterr()
        assert out.out == "" and "no manifests" in out.err


def test_an_internal_error_is_one_line_without_traceback_or_values(monkeypatch, capsys, tmp_path):
    from cmp_plugin import argocd, pipeline

    (tmp_path / "shop.yaml").write_text("{}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARGOCD_APP_NAME", "shop")
    monkeypatch.delenv("CMP_DEBUG", raising=False)

    def boom(*a, **k):
        raise KeyError("s3cr3t-value")

    monkeypatch.setattr(pipeline, "render_file", boom)
    assert argocd.main("generate", []) == 70  # EX_SOFTWARE, as every command exits on a bug
    out = capsys.readouterr()
    assert out.out == ""
    assert "internal error (KeyError" in out.err and "s3cr3t" not in out.err and "Traceback" not in out.err


# --------------------------------------------------------------------------- the env contract

def test_parameters_null_empty_and_unset_all_mean_defaults(cmp, our_apps, tmp_path):
    base = keep(our_apps["bravo"])
    expected = cmp.run(base).stdout
    # No parameters at all: ARGOCD_APP_PARAMETERS=null, file found as <app name>.yaml.
    bare = with_params(base)
    bare["spec"]["source"]["plugin"]["parameters"] = []
    bare = with_env(bare, SECRETS="keep")
    assert cmp.run(bare).stdout == expected
    # Hand-made: ARGOCD_APP_PARAMETERS unset or "[]", PARAM_* only.
    root = cmp.unpack()
    env = harness.merge_env(cmp.base_sidecar_env(), [
        ("ARGOCD_APP_NAME", "bravo"), ("ARGOCD_APP_NAMESPACE", ""), ("PARAM_SECRETS", "keep")])
    r = cmp.exec(["cmp-render", "generate"], root / "projects", env)
    assert r.returncode == 0 and r.stdout == expected, r.stderr
    env["ARGOCD_APP_PARAMETERS"] = "[]"
    env.pop("PARAM_SECRETS")
    env["ARGOCD_ENV_SECRETS"] = "keep"
    r = cmp.exec(["cmp-render", "generate"], root / "projects", env)
    assert r.returncode == 0 and r.stdout == expected, r.stderr


def test_an_application_outside_the_control_plane_namespace(cmp, our_apps):
    """ARGOCD_APP_NAME is then `<appNamespace>_<name>`; the default file is still <name>.yaml."""
    app = with_params(keep(our_apps["charlie"]))
    app["spec"]["source"]["plugin"]["parameters"] = [{"name": "secrets", "string": "keep"}]
    app["metadata"]["namespace"] = "team-apps"
    env = dict(harness.request_env(app))
    assert env["ARGOCD_APP_NAME"] == "team-apps_charlie"
    assert_rendered(cmp.run(app), "charlie")


def test_env_values_are_expanded_like_argocd_does(cmp, seed_apps):
    app = keep(seed_apps["delta"])
    app = with_env(app, HELM_ARGS="-f ../projects/${ARGOCD_APP_NAME}.yaml --set project=$ARGOCD_APP_NAMESPACE")
    assert_rendered(cmp.run(app), "delta")
    # Unknown names become empty: the file is then ../projects/.yaml.
    app = with_env(app, HELM_ARGS="-f ../projects/$NOT_AN_ARGOCD_VAR.yaml")
    assert_failed_cleanly(cmp.run(app), r"projects/\.yaml does not exist")


def test_env_names_are_case_insensitive_and_params_and_env_must_agree(cmp, our_apps):
    app = with_params(keep(our_apps["echo"]))
    app["spec"]["source"]["plugin"]["parameters"] = []
    assert_rendered(cmp.run(with_env(app, file="echo.yaml", secrets="keep")), "echo")
    conflict = with_env(with_params(keep(our_apps["echo"])), FILE="alpha.yaml")
    assert_failed_cleanly(cmp.run(conflict), r"'file' is set both as a plugin parameter")


@pytest.mark.parametrize("params,env,message", [
    ({"fiel": "alpha.yaml"}, {}, r"unknown plugin parameter 'fiel'"),
    ({}, {"VALUES": "x"}, r"unknown plugin env 'VALUES'"),
    ({"secrets": "maybe"}, {}, r"secrets must be 'resolve' or 'keep'"),
    ({"project": "Alpha"}, {}, r"project name 'Alpha' must be a lowercase RFC 1123 label"),
    ({"file": "/etc/passwd"}, {}, r"must be a path relative"),
    ({"file": "../../../../../../etc/os-release.yaml"}, {}, r"points outside the repository"),
    ({"file": "../chart/Chart.yml"}, {}, r"does not exist"),
    ({"file": "../README.md"}, {}, r"is not a \.yaml or \.yml file"),
])
def test_bad_requests_are_refused(cmp, our_apps, params, env, message):
    app = with_env(with_params(keep(our_apps["alpha"]), **params), **env)
    assert_failed_cleanly(cmp.run(app), message)


def test_a_symlink_out_of_the_repository_is_refused(cmp, our_apps, tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text("applications: []\n")

    def link(root: Path) -> None:
        (root / "projects" / "evil.yaml").symlink_to(outside)

    app = with_params(keep(our_apps["alpha"]), file="evil.yaml", project="evil")
    assert_failed_cleanly(cmp.run(app, mutate=link), r"symlink that points outside the repository")


@pytest.mark.parametrize("helm_args,message", [
    ("-f ../projects/alpha.yaml --set project=alpha; touch {marker}", r"unsupported argument 'touch'"),
    ("-f ../projects/alpha.yaml --set project=alpha$(touch {marker})", r"unsupported argument"),
    ("-f ../projects/alpha.yaml --set project=alpha$(id)", r"project name .* must be"),
    ("-f ../projects/alpha.yaml --set project=alpha `touch {marker}`", r"unsupported argument"),
    ("-f ../projects/alpha.yaml --post-renderer {marker}", r"unsupported argument '--post-renderer'"),
    ("-f ../projects/alpha.yaml -f ../projects/bravo.yaml", r"exactly one values file, found 2"),
    ("--set project=alpha", r"exactly one values file, found 0"),
    ("-f ../projects/alpha.yaml --set image.tag=x", r"unsupported --set 'image\.tag=x'"),
    ("-f ../projects/alpha.yaml --set project=alpha,x=y", r"needs one project name"),
    ("-f ../projects/alpha.yaml --set project=a --set project=b", r"more than once"),
    ("-f '../projects/alpha.yaml", r"cannot be split into words"),
    ("-f /work/projects/alpha.yaml", r"must be a path relative"),
    ("-f ../../../../../../../../etc/passwd.yaml", r"points outside the repository"),
])
def test_helm_args_are_split_never_evaluated(cmp, seed_apps, tmp_path, helm_args, message):
    marker = tmp_path / "pwned"
    app = with_env(keep(seed_apps["alpha"]), HELM_ARGS=helm_args.format(marker=marker))
    assert_failed_cleanly(cmp.run(app), message)
    assert not marker.exists()


def test_helm_args_forms_that_are_accepted(cmp, seed_apps):
    for args in ("--values ../projects/alpha.yaml", "--values=../projects/alpha.yaml --set=project=alpha",
                 "  -f   '../projects/alpha.yaml'  "):
        assert_rendered(cmp.run(with_env(keep(seed_apps["alpha"]), HELM_ARGS=args)), "alpha")


def test_helm_args_and_file_parameters_are_exclusive(cmp, seed_apps):
    app = with_env(keep(seed_apps["alpha"]), FILE="../projects/alpha.yaml")
    assert_failed_cleanly(cmp.run(app), r"either ARGOCD_ENV_HELM_ARGS .* or the 'file'/'project' parameters")


def test_binding_to_the_appproject(tmp_path, our_apps, seed_apps):
    """CMP_BIND_APP_PROJECT=true (our sidecar): project X only for AppProject X, namespace X."""
    cmp = harness.Harness(tmp_path, sidecar_env={"CMP_BIND_APP_PROJECT": "true"})
    assert_rendered(cmp.run(keep(our_apps["golf"])), "golf")
    assert_failed_cleanly(cmp.run(keep(seed_apps["golf"])), r"only be rendered by Applications in the Argo CD "
                                                             r"AppProject 'golf', not 'default'")
    other = with_params(keep(our_apps["golf"]), file="hotel.yaml", project="hotel")
    assert_failed_cleanly(cmp.run(other), r"AppProject 'hotel', not 'golf'")
    moved = keep(our_apps["golf"])
    moved["spec"]["destination"]["namespace"] = "kube-system"
    assert_failed_cleanly(cmp.run(moved), r"destination namespace is 'kube-system'")


@pytest.mark.parametrize("config", SIDECARS)
def test_every_application_the_applicationsets_make_passes_its_sidecars_bindings(cmp, our_apps, seed_apps, config):
    """Both ApplicationSets name each Application, and its destination namespace, after the project
    it renders, so the sidecar that serves them (bindings as its manifest sets them) accepts them all."""
    from cmp_plugin.argocd.request import effective_project, resolve

    bindings = sidecar_bindings(config)
    assert bindings.get("CMP_BIND_APP_NAME") == "true"
    apps = our_apps if config == "main" else seed_apps
    root = cmp.unpack()
    for name, app in apps.items():
        assert app["spec"]["source"]["plugin"]["name"] == SIDECARS[config][2]
        env = harness.merge_env(bindings, harness.request_env(app))
        request = resolve(env, root / app["spec"]["source"]["path"])
        assert effective_project(request) == name == env["ARGOCD_APP_NAME"] == env["ARGOCD_APP_NAMESPACE"]


NAME_BOUND = {"CMP_BIND_APP_NAME": "true"}


@pytest.mark.parametrize("change,message", [
    # Argo CD prefixes an Application's env with ARGOCD_ENV_ and its parameters with PARAM_ (and
    # lists them in ARGOCD_APP_PARAMETERS): neither can replace ARGOCD_APP_* or the sidecar's switch.
    (lambda a: with_env(a, ARGOCD_APP_NAME="bravo"), r"unknown plugin env 'ARGOCD_APP_NAME'"),
    (lambda a: with_env(a, ARGOCD_APP_NAMESPACE="bravo"), r"unknown plugin env 'ARGOCD_APP_NAMESPACE'"),
    (lambda a: with_env(a, CMP_BIND_APP_NAME="false"), r"unknown plugin env 'CMP_BIND_APP_NAME'"),
    (lambda a: with_params(a, ARGOCD_APP_NAME="bravo"), r"unknown plugin parameter 'ARGOCD_APP_NAME'"),
    (lambda a: with_params(a, CMP_BIND_APP_NAME="false"), r"unknown plugin parameter 'CMP_BIND_APP_NAME'"),
])
def test_an_application_cannot_override_what_the_name_binding_reads(tmp_path, our_apps, change, message):
    cmp = harness.Harness(tmp_path, sidecar_env=NAME_BOUND)
    app = change(with_params(keep(our_apps["delta"]), project="bravo"))
    assert_failed_cleanly(cmp.run(app), message)


def test_binding_to_the_application_name(tmp_path, our_apps, seed_apps):
    """CMP_BIND_APP_NAME=true: project X only for the Application named X deploying to namespace X."""
    cmp = harness.Harness(tmp_path, sidecar_env=NAME_BOUND)
    assert_rendered(cmp.run(keep(seed_apps["golf"])), "golf")  # AppProject default is fine
    named = r"project 'golf' may only be rendered by the Argo CD Application named 'golf', not "
    # Another Application of the same name, outside Argo CD's namespace: `<namespace>_golf`.
    elsewhere = keep(our_apps["golf"])
    elsewhere["metadata"]["namespace"] = "team-apps"
    assert_failed_cleanly(cmp.run(elsewhere), named + r"'team-apps_golf' \(an Application outside")
    renamed = keep(our_apps["golf"])
    renamed["metadata"]["name"] = "golf-preview"
    assert_failed_cleanly(cmp.run(renamed), named + r"'golf-preview' \(CMP_BIND_APP_NAME is on")
    for namespace, shown in (("kube-system", "'kube-system'"), ("", r"'\(none\)'")):
        moved = keep(our_apps["golf"])
        moved["spec"]["destination"]["namespace"] = namespace
        result = cmp.run(moved)
        assert_failed_cleanly(result, r"project 'golf' deploys to namespace 'golf', but the Application's "
                                      rf"destination namespace is {shown} \(CMP_BIND_APP_NAME is on")
        assert "Application named" not in result.stderr


@pytest.mark.parametrize("value,renders", [("false", True), ("", True), ("true", False), ("ture", False)])
def test_the_name_binding_switch(tmp_path, seed_apps, value, renders):
    """The documented opt-out is CMP_BIND_APP_NAME=false (or unset); a typo fails closed."""
    cmp = harness.Harness(tmp_path, sidecar_env={"CMP_BIND_APP_NAME": value})
    result = cmp.run(with_env(keep(seed_apps["delta"]), HELM_ARGS="-f ../projects/bravo.yaml"))
    if renders:
        assert_rendered(result, "bravo")
    elif value == "true":
        assert_failed_cleanly(result, r"Application named 'bravo', not 'delta'")
    else:
        assert_failed_cleanly(result, r"^error: CMP_BIND_APP_NAME='ture': expected true or false$")


def test_the_repository_root_outside_argocd(tmp_path):
    from cmp_plugin.argocd.request import repo_root

    (tmp_path / "repo" / "deploy" / "projects").mkdir(parents=True)
    cwd = tmp_path / "repo" / "deploy" / "projects"
    assert repo_root(cwd, {"ARGOCD_APP_SOURCE_PATH": "deploy/projects/"}) == (tmp_path / "repo").resolve()
    assert repo_root(cwd, {"ARGOCD_APP_SOURCE_PATH": "./projects"}) == (tmp_path / "repo" / "deploy").resolve()
    assert repo_root(cwd, {"ARGOCD_APP_SOURCE_PATH": "other"}) in (cwd.resolve(), *cwd.resolve().parents)
    (tmp_path / "repo" / ".git").mkdir()
    assert repo_root(cwd, {}) == (tmp_path / "repo").resolve()
    work = tmp_path / "_cmp_server" / "abc123" / "chart"
    work.mkdir(parents=True)
    assert repo_root(work, {"ARGOCD_APP_SOURCE_PATH": "x/y/z"}) == work.parent.resolve()


# --------------------------------------------------------------------------- discover, parameters

def test_plugin_yaml_is_name_only(cmp):
    for plugin in cmp.plugins.values():
        assert "discover" not in plugin.spec, f"{plugin.file}: a discover rule could claim other Applications"
        generic = plugin.name == "cmp-generic-v1"  # the generic plugin (tests/generic)
        assert plugin.spec["generate"]["command"] == ["cmp-render", "generic-generate" if generic else "generate"]
    assert sorted(cmp.plugins) == ["argocd-vault-plugin-helm", "cmp-generic-v1", "cmp-plugin-v1"]


def test_discover_never_claims_an_application_without_a_plugin_block(cmp):
    root = cmp.unpack()
    auto = harness.merge_env(cmp.base_sidecar_env(), [("ARGOCD_APP_NAME", "alpha"),
                                                      ("ARGOCD_APP_SOURCE_PATH", "projects")])
    r = cmp.exec(["cmp-render", "discover"], root / "projects", auto)
    assert r.returncode == 0 and r.stdout == b""
    named = dict(auto, ARGOCD_APP_PARAMETERS="null")
    r = cmp.exec(["cmp-render", "discover"], root / "projects", named)
    assert r.returncode == 0 and r.stdout == b"projects/alpha.yaml\n"
    missing = dict(named, ARGOCD_APP_NAME="nope")
    r = cmp.exec(["cmp-render", "discover"], root / "projects", missing)
    assert r.returncode == 0 and r.stdout == b""


def test_parameters_prints_only_a_json_array_with_the_reduced_env(cmp, our_apps, seed_apps):
    for app in (our_apps["alpha"], seed_apps["alpha"]):
        app = dict(app, spec=dict(app["spec"], source=dict(app["spec"]["source"],
                                                           plugin=dict(app["spec"]["source"]["plugin"],
                                                                       name="cmp-plugin-v1"))))
        r = cmp.parameters(app)
        assert r.returncode == 0, r.stderr
        items = json.loads(r.stdout)
        assert [i["name"] for i in items] == ["file", "project", "secrets"]
        assert all(isinstance(i.get("string", ""), str) for i in items)
    assert json.loads(cmp.parameters(our_apps["alpha"]).stdout)[0]["string"] == "alpha.yaml"
    # No request env at all (the UI's path listing): still only a JSON array.
    root = cmp.unpack()
    r = cmp.exec(["cmp-render", "parameters"], root, cmp.base_sidecar_env())
    assert r.returncode == 0 and isinstance(json.loads(r.stdout), list)


# --------------------------------------------------------------------------- concurrency

def test_eight_concurrent_runs_do_not_interfere(cmp, reference, our_apps):
    names = [n for n in NAMES if n != "india"][:8]
    assert len(names) == 8
    apps = [keep(our_apps[n]) for n in names]
    sequential = [reference.run(our_apps[n]).stdout for n in names]
    for _ in range(2):
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            concurrent_results = list(pool.map(cmp.run, apps))
        for name, seq, res in zip(names, sequential, concurrent_results):
            assert_rendered(res, name)
            assert res.stdout == seq, f"{name}: concurrent output differs from the sequential one"
    assert len(set(sequential)) == 8
    assert not any(cmp.workdir.iterdir()), "request directories left behind"


# --------------------------------------------------------------------------- rendered objects

@pytest.mark.parametrize("name", NAMES)
def test_rendered_objects_validate(reference, our_apps, name):
    require_schemas()
    result = reference.run(our_apps[name])
    assert result.ok, result.error
    errors = [e for obj in result.objects for e in validation_errors(obj)]
    assert not errors, "\n".join(errors)


# --------------------------------------------------------------------------- deadlines

@pytest.fixture
def hung_vault(tmp_path):
    """A Vault that accepts connections and never answers."""
    with Silent() as hole:
        env = {
            "VAULT_ADDR": hole.addr,
            "AVP_TYPE": "vault",
            "AVP_AUTH_TYPE": "token",
            "VAULT_TOKEN": "test-token",
        }
        yield hole, env


def _resolving_app(our_apps):
    app = with_params(our_apps["bravo"], secrets="resolve")
    return app


def test_sigterm_in_the_middle_of_a_run_leaves_no_stdout_and_no_process(tmp_path, our_apps, hung_vault):
    hole, vault_env = hung_vault
    cmp = harness.Harness(tmp_path, sidecar_env=dict(vault_env, CMP_TIMEOUT_SECONDS="120"))
    seen = {}

    def terminate_once_vault_is_called(proc):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None and not hole.connected.is_set():
            time.sleep(0.05)
        seen["was_waiting_on_vault"] = hole.connected.is_set() and proc.poll() is None
        harness._killpg(proc.pid, 15)  # what argocd-cmp-server does at the deadline

    result = cmp.run(_resolving_app(our_apps), on_start=terminate_once_vault_is_called)
    assert seen["was_waiting_on_vault"], f"the run never waited on Vault: {result.stderr}"
    assert result.returncode in (143, -15), (result.returncode, result.stderr)
    assert result.stdout == b""
    assert "Traceback" not in result.stderr
    assert harness.wait_group_gone(result.pgid), "processes of the run are still alive"


def test_argocd_deadline_sigterm_path(tmp_path, our_apps, hung_vault):
    """The harness's own deadline (Argo CD's gRPC deadline): SIGTERM to the group, no output."""
    _, vault_env = hung_vault
    cmp = harness.Harness(tmp_path, sidecar_env=dict(vault_env, CMP_TIMEOUT_SECONDS="120"), deadline=4)
    started = time.monotonic()
    result = cmp.run(_resolving_app(our_apps))
    assert time.monotonic() - started < 4 + harness.KILL_GRACE + 5
    assert result.returncode in (143, -15), (result.returncode, result.stderr)
    assert result.stdout == b""
    assert harness.wait_group_gone(result.pgid)


def test_the_internal_budget_fails_readably_before_argocd_kills_the_run(tmp_path, our_apps, hung_vault):
    _, vault_env = hung_vault
    cmp = harness.Harness(tmp_path, sidecar_env=dict(vault_env, CMP_TIMEOUT_SECONDS="2"))
    started = time.monotonic()
    result = cmp.run(_resolving_app(our_apps))
    assert time.monotonic() - started < 15
    assert_failed_cleanly(result, r"took longer than 2 s \(CMP_TIMEOUT_SECONDS\)")
    assert result.returncode == 1
    assert harness.wait_group_gone(result.pgid)


@pytest.mark.parametrize("mode", ["external-secrets", "vault-secrets-operator"])
def test_operator_modes_never_contact_vault(tmp_path, our_apps, mode):
    """secrets=resolve (the default) in an operator mode: nothing to resolve, so no Vault at all,
    even when the configured Vault cannot be reached."""
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    cmp = harness.Harness(tmp_path, sidecar_env={"CMP_SECRETS_MODE": mode, "VAULT_ADDR": dead,
                                                 "AVP_AUTH_TYPE": "token", "VAULT_TOKEN": "unused"})
    result = cmp.run(our_apps["golf"])
    assert_rendered(result, "golf")
    kinds = {o["kind"] for o in result.objects}
    assert ("ExternalSecret" if mode == "external-secrets" else "VaultStaticSecret") in kinds
    assert b"<path:" not in result.stdout
