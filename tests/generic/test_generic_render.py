"""The generic plugin in-process: a real Helm chart rendered by Helm's engine (helm-python-sdk, behind
the HelmRunner interface), plain manifests, placeholders resolved from a real OpenBao, and the
failure contract."""

from __future__ import annotations

import base64

import pytest

from cliutil import yaml_docs
from cmp_plugin.generic import generate, render
from cmp_plugin.problems import Failure
from conftest import PASSWORD, argocd_env
from helm_sdk import SdkHelm


def run(vault, monkeypatch, cwd, runner=None, **env):
    monkeypatch.chdir(cwd)
    return render({**vault.env(), **argocd_env(**env)}, runner or SdkHelm())


def objects(text: str) -> dict:
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml_docs(text) if d}


def test_a_chart_with_argo_cds_release_and_namespace_and_helm_args(vault, gitops, monkeypatch):
    runner = SdkHelm()
    out = run(vault, monkeypatch, gitops / "charts" / "web", runner, name="web", namespace="web",
              HELM_ARGS="-f values-prod.yaml --set-string extraEnv.LEVEL=debug --set image=nginx:1.28")
    (request,) = runner.calls
    assert (request.release, request.namespace) == ("web", "web")
    got = objects(out)
    dep = got[("Deployment", "web")]
    assert dep["metadata"]["namespace"] == "web" and dep["spec"]["replicas"] == 3
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.28"
    assert container["env"] == [{"name": "DB_USER", "value": "app"}, {"name": "LEVEL", "value": "debug"}]
    secret = got[("Secret", "web-db")]
    assert secret["stringData"] == {"password": PASSWORD}
    # Helm's b64enc of text with placeholders: decoded, resolved, encoded again (AVP's rule)
    assert base64.b64decode(secret["data"]["dsn"]).decode() == "postgres://app:pw-3x%3CAmp%26%3E@db/web"
    assert "installed" not in out  # NOTES.txt is not a manifest


def test_crds_are_rendered_unless_skipped(vault, gitops, monkeypatch):
    crd = ("CustomResourceDefinition", "widgets.example.com")
    assert crd in objects(run(vault, monkeypatch, gitops / "charts" / "web"))
    assert crd not in objects(run(vault, monkeypatch, gitops / "charts" / "web", HELM_ARGS="--skip-crds"))


def test_helm_values_inline(vault, gitops, monkeypatch):
    out = run(vault, monkeypatch, gitops / "charts" / "web", HELM_VALUES="replicas: 7\nimage: busybox\n")
    dep = objects(out)[("Deployment", "web")]
    assert dep["spec"]["replicas"] == 7 and dep["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox"


def test_output_is_printed_as_argocd_vault_plugin_prints_it(vault, gitops, monkeypatch):
    out = run(vault, monkeypatch, gitops / "manifests" / "web")
    assert out == ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: pw-3x<Amp&>\n---\n"
                   "apiVersion: v1\ndata:\n  user: app\nkind: ConfigMap\nmetadata:\n  annotations:\n"
                   "    avp.kubernetes.io/path: kv/data/apps/team-a/web/db\n  name: settings\n---\n")


def test_paths_are_confined_to_the_applications_project_and_namespace(vault, gitops, monkeypatch):
    with pytest.raises(Failure) as info:  # team-b's Application names team-a's secrets
        run(vault, monkeypatch, gitops / "charts" / "web", project="team-b")
    assert "the path kv/data/apps/team-a/web/db is outside the allowed prefixes kv/data/apps/team-b/web/" in str(info.value)
    with pytest.raises(Failure) as info:  # and cannot point the chart at another path either
        run(vault, monkeypatch, gitops / "charts" / "web", HELM_ARGS="--set secretPath=kv/data/apps/team-b/web/db")
    assert "outside the allowed prefixes kv/data/apps/team-a/web/" in str(info.value)
    assert "pw-of-team-b" not in str(info.value)


@pytest.mark.parametrize("env, why", [
    ({"HELM_ARG": "-f x.yaml"}, "unknown plugin env 'HELM_ARG'"),
    ({"HELM_ARGS": "--post-renderer ./x"}, "is not accepted"),
    ({"HELM_ARGS": "-f ../../../../etc/passwd"}, "points outside the repository"),
])
def test_refused_requests(vault, gitops, monkeypatch, env, why):
    with pytest.raises(Failure, match=why):
        run(vault, monkeypatch, gitops / "charts" / "web", **env)


def test_helm_settings_for_plain_manifests_are_refused(vault, gitops, monkeypatch):
    with pytest.raises(Failure, match="HELM_ARGS given, but the application's directory .manifests/web. has no Chart.yaml"):
        run(vault, monkeypatch, gitops / "manifests" / "web", HELM_ARGS="-f x.yaml")


def test_parameters_are_refused(vault, gitops, monkeypatch):
    monkeypatch.chdir(gitops / "manifests" / "web")
    env = {**vault.env(), **argocd_env(), "ARGOCD_APP_PARAMETERS": '[{"name": "file", "string": "x"}]'}
    with pytest.raises(Failure, match="this plugin takes no parameters"):
        render(env, SdkHelm())


def test_symlinks_out_of_the_repository_are_refused(vault, gitops, monkeypatch, tmp_path):
    (tmp_path / "token").write_text("a-service-account-token")
    (gitops / "charts" / "web" / "files").mkdir()
    (gitops / "charts" / "web" / "files" / "token").symlink_to(tmp_path / "token")
    with pytest.raises(Failure, match="symlinks that point outside the repository: charts/web/files/token"):
        run(vault, monkeypatch, gitops / "charts" / "web")


def test_an_applications_vault_settings_do_not_count(vault, gitops, monkeypatch):
    with pytest.raises(Failure) as info:
        run(vault, monkeypatch, gitops / "charts" / "web", project="team-b",
            CMP_RESOLVE_PREFIXES="kv", CMP_RESOLVE_ANY_PATH="true", VAULT_ADDR="http://127.0.0.1:9")
    assert "outside the allowed prefixes kv/data/apps/team-b/web/" in str(info.value)


def test_helm_errors_are_reported(vault, gitops, monkeypatch):
    (gitops / "charts" / "web" / "templates" / "bad.yaml").write_text("{{ .Values.nope.deeper }}\n")
    with pytest.raises(Failure, match="helm template failed"):
        run(vault, monkeypatch, gitops / "charts" / "web")


def test_failure_contract(vault, gitops, monkeypatch, capsys):
    monkeypatch.chdir(gitops / "charts" / "web")
    for key, value in {**vault.env(), **argocd_env(project="team-b")}.items():
        monkeypatch.setenv(key, value)
    assert generate([], SdkHelm()) == 1
    out, err = capsys.readouterr()
    assert out == "" and "outside the allowed prefixes" in err and PASSWORD not in err
    for key, value in argocd_env(project="team-a").items():
        monkeypatch.setenv(key, value)
    assert generate([], SdkHelm()) == 0
    out, err = capsys.readouterr()
    assert ("Deployment", "web") in objects(out) and err == ""
    assert generate(["x"], SdkHelm()) == 2


def test_the_vault_role_may_follow_the_appproject(vault, gitops, monkeypatch, tmp_path):
    """AVP_K8S_ROLE=cmp-generic-{project}: one Vault role per AppProject."""
    jwt = tmp_path / "jwt"
    jwt.write_text("header.claims.signature")
    monkeypatch.chdir(gitops / "charts" / "web")
    env = {**vault.env(VAULT_TOKEN="", AVP_AUTH_TYPE="k8s", AVP_K8S_ROLE="cmp-generic-{project}",
                       AVP_K8S_TOKEN_PATH=str(jwt), CMP_VAULT_TOKEN_CACHE="false"), **argocd_env()}
    with pytest.raises(Failure, match="Vault login failed \\(Kubernetes auth, role cmp-generic-team-a at auth/kubernetes\\)"):
        render(env, SdkHelm())


def test_helm_runs_under_the_plugins_signal_handlers_and_budget(vault, gitops, monkeypatch, capsys):
    """As `cmp-render generate`: SIGTERM ends the run at once (exit 143, nothing on stdout), and
    the internal budget (SIGALRM) stops a slow render with a readable message."""
    import signal

    from cmp_plugin.argocd.run import on_sigterm

    seen = {}

    class OutOfTime(SdkHelm):
        def template(self, request, timeout):
            seen["sigterm"] = signal.getsignal(signal.SIGTERM)
            seen["timeout"] = timeout
            signal.raise_signal(signal.SIGALRM)  # the budget's alarm, now rather than after a wait
            raise AssertionError("the alarm ends the render")

    monkeypatch.chdir(gitops / "charts" / "web")
    for key, value in {**vault.env(), **argocd_env(), "CMP_TIMEOUT_SECONDS": "1"}.items():
        monkeypatch.setenv(key, value)
    assert generate([], OutOfTime()) == 1
    out, err = capsys.readouterr()
    assert out == "" and "generation took longer than 1 s (CMP_TIMEOUT_SECONDS)" in err
    assert seen["sigterm"] is on_sigterm and seen["timeout"] == 1.0
