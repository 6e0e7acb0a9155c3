"""HELM_ARGS and HELM_VALUES: only Helm's rendering flags, split with shlex, files confined to the
repository, and the argv the sidecar's helm binary gets."""

from __future__ import annotations

import os
import stat

import pytest

from cmp_plugin.generic.helm import HelmBinary, build_request, parse_helm_args
from cmp_plugin.problems import Failure


@pytest.mark.parametrize("text, expected", [
    ("", ([], [], [], [])),
    ("-f values-prod.yaml -f 'dir with space/x.yaml'", (["values-prod.yaml", "dir with space/x.yaml"], [], [], [])),
    ("--values=a.yaml,b.yaml -fc.yaml -f=d.yaml", (["a.yaml", "b.yaml", "c.yaml", "d.yaml"], [], [], [])),
    ("--set image.tag=v2 --set-string port=80 --set-json 'x={\"a\":[1]}' --set-literal 'p=a,b' --set=k=v",
     ([], [("--set", "image.tag=v2"), ("--set-string", "port=80"), ("--set-json", 'x={"a":[1]}'),
           ("--set-literal", "p=a,b"), ("--set", "k=v")], [], [])),
    ("--include-crds --skip-tests --no-hooks --skip-crds",
     ([], [], ["--include-crds", "--skip-tests", "--no-hooks", "--skip-crds"], [])),
    ("--kube-version 1.33 -a monitoring.coreos.com/v1 --api-versions=x/v1",
     ([], [], [], [("--kube-version", "1.33"), ("--api-versions", "monitoring.coreos.com/v1"),
                   ("--api-versions", "x/v1")])),
])
def test_accepted(text, expected):
    assert parse_helm_args(text) == expected


@pytest.mark.parametrize("text, why", [
    ("--post-renderer ./evil.sh", "'--post-renderer' is not accepted"),
    ("--post-renderer=./evil.sh", "'--post-renderer=./evil.sh' is not accepted"),
    ("--repo https://charts.example.com", "is not accepted"),
    ("--dependency-update", "is not accepted"),
    ("--kubeconfig /etc/kube", "is not accepted"),
    ("--validate", "is not accepted"),
    ("--output-dir /tmp/x", "is not accepted"),
    ("-n kube-system", "'-n' is not accepted"),
    ("--namespace=kube-system", "is not accepted"),
    ("other-release .", "'other-release' is not accepted"),
    ("; rm -rf /", "';' is not accepted"),
    ("$(id)", "'$(id)' is not accepted"),
    ("`id`", "'`id`' is not accepted"),
    ("-f", "-f needs a value"),
    ("--include-crds=false", "takes no value"),
    ("-f 'unclosed", "cannot be split into words"),
])
def test_refused(text, why):
    with pytest.raises(Failure) as info:
        parse_helm_args(text)
    assert why in str(info.value)


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    chart = root / "charts" / "web"
    chart.mkdir(parents=True)
    (chart / "values-prod.yaml").write_text("replicas: 3\n")
    (root / "shared.yaml").write_text("x: 1\n")
    (tmp_path / "outside.yaml").write_text("stolen: true\n")
    (chart / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    (chart / "token").symlink_to("/etc/hostname")
    os.mkfifo(chart / "fifo.yaml")
    return root, chart


def test_files_must_be_regular_files_in_the_repository(repo, tmp_path):
    root, chart = repo
    request = build_request(chart, root, "web", "apps", "-f values-prod.yaml -f ../../shared.yaml", "", tmp_path)
    assert request.value_files == [str(chart / "values-prod.yaml"), str(root / "shared.yaml")]
    for name, why in (("../../../outside.yaml", "points outside the repository"), ("link.yaml", "outside the repository"),
                      ("/etc/passwd", "must be a path relative"), ("~/x.yaml", "must be a path relative"),
                      ("-", "not stdin or a URL"), ("https://evil.example/v.yaml", "not stdin or a URL"),
                      ("fifo.yaml", "not a regular file"), ("absent.yaml", "not a regular file")):
        with pytest.raises(Failure, match=why):
            build_request(chart, root, "web", "apps", f"-f {name}", "", tmp_path)
    with pytest.raises(Failure, match="outside the repository"):  # Helm would put the file's text in a value
        build_request(chart, root, "web", "apps", "--set-file cert=token", "", tmp_path)
    request = build_request(chart, root, "web", "apps", "--set-file a=values-prod.yaml", "", tmp_path)
    assert request.sets == [("--set-file", f"a={chart / 'values-prod.yaml'}")]


def test_helm_values_are_a_private_values_file_after_the_others(repo, tmp_path):
    root, chart = repo
    request = build_request(chart, root, "web", "apps", "-f values-prod.yaml", "replicas: 5\n", tmp_path)
    assert request.value_files[0] == str(chart / "values-prod.yaml")
    written = request.value_files[1]
    assert open(written).read() == "replicas: 5\n"
    assert stat.S_IMODE(os.stat(written).st_mode) == 0o600
    with pytest.raises(Failure, match="HELM_VALUES is larger than"):
        build_request(chart, root, "web", "apps", "", "x" * (1024 * 1024 + 1), tmp_path)


def test_the_binary_gets_argos_release_and_namespace_and_no_credentials(repo, tmp_path, monkeypatch):
    root, chart = repo
    monkeypatch.setenv("VAULT_TOKEN", "s.sidecar-token")
    monkeypatch.setenv("AVP_SECRET_ID", "secret-id")
    request = build_request(chart, root, "web", "apps",
                            "--set b=2 -f values-prod.yaml --include-crds --set-string a=1 --kube-version 1.33", "",
                            tmp_path)
    helm = HelmBinary("/usr/local/bin/helm")
    assert helm.argv(request) == [
        "/usr/local/bin/helm", "template", "web", str(chart), "--namespace", "apps",
        "--values", str(chart / "values-prod.yaml"), "--set", "b=2", "--set-string", "a=1", "--include-crds",
        "--kube-version", "1.33"]
    assert build_request(chart, root, "web", "", "", "", tmp_path).switches == ["--include-crds"]  # by default
    assert build_request(chart, root, "web", "", "--skip-crds --include-crds", "", tmp_path).switches == ["--skip-crds"]
    env = helm.environment(str(tmp_path / "home"))
    assert set(env) == {"PATH", "HOME", "TMPDIR", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME",
                        "KUBECONFIG"}
    assert env["KUBECONFIG"] == os.devnull
    assert "s.sidecar-token" not in str(env) and "secret-id" not in str(env)


def test_a_missing_helm_binary_is_a_clear_error(repo, tmp_path):
    root, chart = repo
    request = build_request(chart, root, "web", "apps", "", "", tmp_path)
    with pytest.raises(Failure, match="the helm binary .* is not installed in this sidecar"):
        HelmBinary(str(tmp_path / "no-helm")).template(request, timeout=5)
