"""Platform settings: the isolation settings (maps, per-project overrides from the settings file
only), every way they can be wrong, each reported as one `error: ...` line, all in one pass."""

from __future__ import annotations

import pytest

from cliutil import EXAMPLES
from cmp_plugin.problems import Failure
from cmp_plugin.settings import load_settings, settings_reference


def problems(env: dict | None = None, file_text: str | None = None, tmp_path=None) -> list[str]:
    file = None
    if file_text is not None:
        file = tmp_path / "settings.yaml"
        file.write_text(file_text)
    with pytest.raises(Failure) as exc:
        load_settings(env=env or {}, file=str(file) if file else None)
    return [p.format() for p in exc.value.problems]


def test_maps_from_the_environment_and_the_file(tmp_path):
    s = load_settings(env={"CMP_QUOTA": "pods=10, requests.cpu=500m", "CMP_LIMIT_RANGE": "defaultRequest.cpu=0.25"})
    assert s.quota_for("shop") == {"requests.cpu": "500m", "pods": "10"}  # MAP_KEYS order, not input order
    assert s.limit_range_for("shop") == {"defaultRequest.cpu": "0.25"}
    (tmp_path / "s.yaml").write_text("quota: {requests.storage: 1Ti, persistentvolumeclaims: 3, requests.cpu: 1.5}\n"
                                     "limit_range: {defaultRequest.cpu: 0.5}\n")
    s = load_settings(env={}, file=str(tmp_path / "s.yaml"))
    assert s.quota_for("shop") == {"requests.cpu": "1.5", "persistentvolumeclaims": "3", "requests.storage": "1Ti"}
    assert s.limit_range_for("shop") == {"defaultRequest.cpu": "0.5"}
    (tmp_path / "s.yaml").write_text("quota: null\nlimit_range: {}\n")
    s = load_settings(env={}, file=str(tmp_path / "s.yaml"))
    assert s.quota_for("shop") == s.limit_range_for("shop") == {}


def test_overrides_replace_keys_per_project_and_null_drops_the_map(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "project_overrides:\n"
        "  big: {quota: {pods: 500, requests.memory: 64Gi}}\n"
        "  trusted: {quota: null, limit_range: {default.memory: 4Gi}}\n")
    s = load_settings(env={}, file=str(tmp_path / "s.yaml"))
    base = load_settings(env={}).quota_for("x")
    assert s.quota_for("big") == {**base, "pods": "500", "requests.memory": "64Gi"}
    assert s.quota_for("other") == base
    assert s.quota_for("trusted") == {}
    assert s.limit_range_for("trusted")["default.memory"] == "4Gi"
    assert s.limit_range_for("trusted")["defaultRequest.cpu"] == "50m"


def test_overrides_come_from_the_settings_file_only():
    assert load_settings(env={"CMP_PROJECT_OVERRIDES": "shop: {quota: null}"}).project_overrides == ()
    assert "| `project_overrides` | (settings file) |" in settings_reference()


@pytest.mark.parametrize("env, expected", [
    ({"CMP_QUOTA": "limits.cpu=2"},
     "error: CMP_QUOTA: limits.cpu is not supported: no container gets a CPU limit, so Kubernetes would refuse every pod"),
    ({"CMP_LIMIT_RANGE": "default.cpu=1,defaultRequest.cpu=1"},
     "error: CMP_LIMIT_RANGE: default.cpu is not supported: containers get no CPU limit (it throttles busy pods while "
     "the node is idle)"),
    ({"CMP_QUOTA": "requests.cpu=lots"}, "error: CMP_QUOTA: requests.cpu: 'lots' does not match "),
    ({"CMP_QUOTA": "pods=1.5"}, "error: CMP_QUOTA: pods: '1.5' does not match "),
    ({"CMP_QUOTA": "requests.memory=512m"}, "error: CMP_QUOTA: requests.memory: '512m' does not match "),
    ({"CMP_QUOTA": "pods"}, "error: CMP_QUOTA: 'pods' is not a key=value pair"),
    ({"CMP_QUOTA": "cpu=1"}, "error: CMP_QUOTA: unknown key 'cpu' (expected one of requests.cpu, requests.memory, "
                             "limits.memory, pods, persistentvolumeclaims, requests.storage)"),
    ({"CMP_INGRESS_NAMESPACE": "Traefik"}, "error: CMP_INGRESS_NAMESPACE: 'Traefik' does not match "),
    ({"CMP_RESTRICT_EGRESS": "true", "CMP_NETWORK_POLICIES": "false"},
     "error: restrict_egress: needs network_policies (egress is restricted by a NetworkPolicy)"),
    ({"CMP_LIMIT_RANGE": "defaultRequest.cpu=50m,defaultRequest.memory=2Gi,default.memory=1Gi"},
     "error: quota and limit_range: limit_range defaultRequest.memory 2Gi is more than default.memory 1Gi; "
     "Kubernetes refuses such a LimitRange"),
])
def test_bad_environment_settings(env, expected):
    found = problems(env)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_a_quota_needs_the_limit_range_to_fill_in_what_pods_do_not_name():
    assert problems({"CMP_LIMIT_RANGE": ""}) == [
        "error: quota and limit_range: quota sets requests.cpu, so limit_range needs defaultRequest.cpu: Kubernetes "
        "refuses every pod with a container that names no CPU request (Argo's own pods name none)",
        "error: quota and limit_range: quota sets requests.memory, so limit_range needs defaultRequest.memory: "
        "Kubernetes refuses every pod with a container that names no memory request (Argo's own pods name none)",
        "error: quota and limit_range: quota sets limits.memory, so limit_range needs default.memory: Kubernetes "
        "refuses every pod with a container that names no memory limit (Argo's own pods name none)"]
    # a memory request defaults to the default limit, so default.memory alone covers requests.memory
    load_settings(env={"CMP_QUOTA": "requests.memory=1Gi", "CMP_LIMIT_RANGE": "default.memory=256Mi"})
    load_settings(env={"CMP_QUOTA": "pods=3", "CMP_LIMIT_RANGE": ""})


def test_bad_settings_file_entries_are_each_one_line(tmp_path):
    found = problems(file_text=(
        "quota: [1, 2]\n"
        "project_overrides:\n"
        "  Bad_Name: {quota: {pods: 1}}\n"
        "  shop: {quotas: {pods: 1}}\n"
        "  blog: {quota: {pods: true}}\n"
        "  news: 3\n"
        "  mail: {limit_range: {defaultRequest.memory: 1Ki}, quota: {limits.cpu: 1}}\n"), tmp_path=tmp_path)
    f = f"settings file {tmp_path / 'settings.yaml'}"
    assert found == [
        f"error: {f}: quota: expected a mapping of requests.cpu, requests.memory, limits.memory, pods, "
        "persistentvolumeclaims, requests.storage to quantities",
        f"error: {f}: project_overrides: 'Bad_Name' is not a project name (a lowercase RFC 1123 label)",
        f"error: {f}: project_overrides.blog.quota: pods: expected a Kubernetes quantity, not True",
        f"error: {f}: project_overrides.mail.quota: limits.cpu is not supported: no container gets a CPU limit, "
        "so Kubernetes would refuse every pod",
        f"error: {f}: project_overrides.news: expected a mapping with quota and/or limit_range",
        f"error: {f}: project_overrides.shop: unknown key 'quotas' (expected quota or limit_range)"]
    assert problems(file_text="project_overrides: [shop]\n", tmp_path=tmp_path) == [
        f"error: {f}: project_overrides: expected a mapping of project names to {{quota, limit_range}}"]


def test_an_override_that_breaks_the_pair_names_its_project(tmp_path):
    found = problems(file_text="project_overrides:\n  shop: {limit_range: null}\n  blog: {quota: {pods: 9}}\n",
                     tmp_path=tmp_path)
    prefix = f"error: settings file {tmp_path / 'settings.yaml'}: project_overrides.shop: quota sets requests.cpu"
    assert len(found) == 3 and found[0].startswith(prefix), found


def test_the_cli_fails_on_bad_settings_without_output(tmp_path, cli, monkeypatch):
    settings = tmp_path / "settings.yaml"
    settings.write_text("project_overrides: {shop: {quota: {pods: many}}}\n")
    monkeypatch.setenv("CMP_QUOTA", "limits.cpu=1")
    result = cli(EXAMPLES / "shop.yaml", "--settings", settings)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        "error: CMP_QUOTA: limits.cpu is not supported: no container gets a CPU limit, so Kubernetes would refuse every pod",
        f"error: settings file {settings}: project_overrides.shop.quota: pods: 'many' does not match ^(?:0|[1-9][0-9]{{0,5}})$"]


def test_no_project_may_live_in_the_ingress_namespace(tmp_path, cli, monkeypatch):
    project = tmp_path / "traefik.yaml"
    project.write_text((EXAMPLES / "analytics.yaml").read_text())
    result = cli(project)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"{project}:1:1: error: project: project 'traefik' would deploy into the ingress "
                             "controller's namespace (setting ingress_namespace)\n")
    monkeypatch.setenv("CMP_INGRESS_NAMESPACE", "kube-system")
    assert cli(project).returncode == 0
