"""The generic plugin run the way argocd-cmp-server runs it (tests/conformance/harness.py): its
plugin.yaml from manifests/generic/, argv without a shell, Argo CD's request environment, a fresh
copy of the repository, Argo CD's parsing of stdout. `helm` on the sidecar's PATH is
tests/generic/helm_sdk.py: Helm's engine (helm-python-sdk) behind the exact argv the plugin
builds for the sidecar image's helm binary."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest

from conftest import PASSWORD, PREFIXES

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"
if str(CONFORMANCE) not in sys.path:
    sys.path.insert(0, str(CONFORMANCE))

import harness  # noqa: E402

HERE = Path(__file__).resolve().parent


def helm_launcher(bin_dir: Path) -> None:
    script = bin_dir / "helm"
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.path[:0] = [{str(harness.REPO)!r}, {str(HERE)!r}]\n"
                      "from helm_sdk import main\nsys.exit(main(sys.argv[1:]))\n")
    script.chmod(0o755)


@pytest.fixture
def cmp(tmp_path, gitops, vault):
    h = harness.Harness(tmp_path / "h", sidecar_env={"VAULT_ADDR": vault.addr, "VAULT_TOKEN": vault.token,
                                                     "CMP_RESOLVE_PREFIXES": PREFIXES,
                                                     "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"},
                        repo=gitops)
    helm_launcher(h.bin)
    return h


def app(path: str, project: str = "team-a", namespace: str = "web", **env) -> dict:
    plugin = {"name": "cmp-generic-v1"}
    if env:
        plugin["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return {"metadata": {"name": "web", "namespace": "argocd"},
            "spec": {"project": project, "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                     "source": {"repoURL": "https://github.com/example/apps.git", "path": path, "plugin": plugin}}}


def by_name(objects: list[dict]) -> dict:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_plugin_name_and_commands():
    plugin = harness.plugins()["cmp-generic-v1"]
    assert plugin.spec["generate"]["command"] == ["cmp-render", "generic-generate"]
    assert "discover" not in plugin.spec  # name-only: it never claims another Application


def test_a_helm_chart(cmp):
    r = cmp.run(app("charts/web", HELM_ARGS="-f values-prod.yaml --set-string extraEnv.MODE=$ARGOCD_APP_NAME"))
    assert r.ok, r.error
    got = by_name(r.objects)
    dep = got[("Deployment", "web")]
    assert dep["metadata"]["namespace"] == "web" and dep["spec"]["replicas"] == 3
    assert dep["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "DB_USER", "value": "app"}, {"name": "MODE", "value": "web"}]
    secret = got[("Secret", "web-db")]
    assert secret["stringData"]["password"] == PASSWORD
    assert base64.b64decode(secret["data"]["dsn"]).decode().startswith("postgres://app:")


def test_plain_manifests(cmp):
    r = cmp.run(app("manifests/web"))
    assert r.ok, r.error
    assert by_name(r.objects)[("ConfigMap", "settings")]["data"] == {"user": "app"}
    assert by_name(r.objects)[("Secret", "db")]["stringData"] == {"password": PASSWORD}


@pytest.mark.parametrize("request_app, why", [
    (app("charts/web", project="team-b"), "outside the allowed prefixes kv/data/apps/team-b/web/"),
    (app("charts/web", HELM_ARGS="--post-renderer ./x"), "'--post-renderer' is not accepted"),
    (app("charts/web", HELM_ARGS="-f absent.yaml"), "is not a regular file in the repository"),
    (app("manifests/web", VALUES="x"), "unknown plugin env 'VALUES'"),
])
def test_failures_exit_non_zero_with_nothing_on_stdout(cmp, request_app, why):
    r = cmp.run(request_app)
    assert r.returncode == 1 and r.stdout == b""
    assert why in r.stderr
    assert PASSWORD not in r.stderr
