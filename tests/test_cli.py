"""The command line's contract: exact problems on stderr, nothing on stdout, non-zero exit.

Every case runs cmp-render in this process (the `cli` fixture); a few run it as a real process too,
for what only a process shows: the exit status, a usage error, a file that would block a read."""

import json
import re

import pytest

from cliutil import EXAMPLES, REPO, expected_lines, run_cli

INVALID = sorted((REPO / "tests" / "fixtures" / "invalid").glob("*.yaml"))
RESERVED = REPO / "tests" / "fixtures" / "reserved"


@pytest.mark.parametrize("fixture", INVALID, ids=lambda p: p.stem)
def test_each_invalid_fixture_reports_exact_lines(fixture, cli):
    assert expected_lines(fixture), f"{fixture.name} has no '# expect: ' lines"
    code, out, err = cli(fixture.relative_to(REPO))
    assert code == 1
    assert out == ""
    assert err.splitlines() == expected_lines(fixture)


# The same contract through a real process (the test above runs every fixture in-process):
# exit 1, nothing on stdout, exactly the expected lines and no traceback on stderr.
def test_invalid_fixture_through_the_command_line():
    fixture = REPO / "tests" / "fixtures" / "invalid" / "cron-invalid.yaml"
    result = run_cli(str(fixture.relative_to(REPO)))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == expected_lines(fixture)


def test_every_problem_in_one_pass(tmp_path, cli):
    bad = tmp_path / "many.yaml"
    bad.write_text(
        "applications:\n"
        "  - name: api\n"
        "    git: {owner: o, repo: r, branch: main, hash: nothex}\n"
        "    port: 70000\n"
        "    domains: [Bad.Example]\n"
        "databases:\n"
        "  - {name: db, type: oracle, version: '1', port: 1, size: 1Gi, extra: 1}\n")
    result = cli(str(bad))
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert [l.split(": error: ")[1].split(":")[0] for l in lines] == [
        "applications[0].git.hash", "applications[0].port", "applications[0].domains[0]",
        "databases[0].type", "databases[0].extra"]
    assert all(re.match(rf"^{re.escape(str(bad))}:\d+:\d+: error: ", l) for l in lines)


@pytest.mark.parametrize("name", ["kube-system", "argocd", "default"])
def test_reserved_namespaces_are_refused(name, cli):
    result = cli(str(RESERVED / f"{name}.yaml"))
    assert result.returncode == 1 and result.stdout == ""
    assert "would deploy into the reserved namespace pattern" in result.stderr
    assert result.stderr.startswith(f"{RESERVED / name}.yaml:1:1: error: project: ")


def test_reserved_namespaces_are_configurable(tmp_path, cli, monkeypatch):
    project = tmp_path / "platform-tools.yaml"
    project.write_text((RESERVED / "default.yaml").read_text())
    assert cli(str(project)).returncode == 0
    monkeypatch.setenv("CMP_RESERVED_NAMESPACES", "platform-*,monitoring")
    result = cli(str(project))
    assert result.returncode == 1 and result.stdout == ""
    assert "reserved namespace pattern 'platform-*'" in result.stderr


def test_project_override_and_invalid_names(cli):
    src = EXAMPLES / "analytics.yaml"
    ok = cli(str(src), "--project", "reports")
    assert ok.returncode == 0 and "namespace: reports" in ok.stdout
    bad = cli(str(src), "--project", "Reports_1")
    assert bad.returncode == 1 and bad.stdout == ""
    assert "must be a lowercase RFC 1123 label" in bad.stderr


def test_non_utf8_oversized_and_missing_files(tmp_path, cli):
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"databases:\n  - name: caf\xe9\n")
    result = cli(str(latin))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"{latin}:2:14: error: not valid UTF-8 (byte 0xe9)\n"

    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1024 * 1024) + "\n")
    result = cli(str(big))
    assert (result.returncode, result.stdout) == (1, "")
    assert "the limit is 1048576 (1 MiB)" in result.stderr

    result = cli(str(tmp_path / "missing.yaml"))
    assert (result.returncode, result.stdout) == (1, "")
    assert "cannot read: No such file or directory" in result.stderr


def test_bad_settings_fail_before_rendering(cli, monkeypatch):
    monkeypatch.setenv("CMP_REGISTRY", "bad host")
    monkeypatch.setenv("CMP_EVENTBUS_REPLICAS", "many")
    result = cli(str(EXAMPLES / "shop.yaml"))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines()[0].startswith("error: CMP_REGISTRY: 'bad host' does not match")
    assert result.stderr.splitlines()[1] == "error: CMP_EVENTBUS_REPLICAS: expected an integer"


def test_usage_errors_exit_2_without_stdout():
    result = run_cli("--secrets", "maybe", "x.yaml")
    assert result.returncode == 2 and result.stdout == ""
    assert "invalid choice: 'maybe'" in result.stderr


def test_schema_command_prints_the_shipped_schema():
    result = run_cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert result.stdout == (REPO / "cmp_plugin" / "validate" / "project.schema.json").read_text()


def test_check_many_files_reports_cross_project_domain_conflicts(tmp_path, cli):
    a, b = tmp_path / "alpha.yaml", tmp_path / "beta.yaml"
    app = "applications:\n  - name: web\n    git: {{owner: o, repo: r, branch: main}}\n    port: 80\n    domains: [{d}]\n"
    a.write_text(app.format(d="shared.example.com"))
    b.write_text(app.format(d="shared.example.com"))
    result = cli("check", str(a), str(b))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"{b}:5:15: error: applications[0].domains[0]: domain 'shared.example.com' "
                             f"is also claimed by project 'alpha' ({a}:5:15)\n")
    b.write_text(app.format(d="beta.example.com"))
    ok = cli("check", str(a), str(b))
    assert ok.returncode == 0 and ok.stdout == ""
    assert ok.stderr == "2 project files OK\n"


def test_check_many_files_reports_cross_project_webhook_paths(tmp_path, cli):
    """Every project's webhook routes share the webhook host: /<project>-<app> must be unique."""
    a, b = tmp_path / "a-b.yaml", tmp_path / "a.yaml"
    app = "applications:\n  - name: {n}\n    git: {{owner: o, repo: r, branch: main}}\n    port: 80\n"
    a.write_text(app.format(n="c"))
    b.write_text(app.format(n="b-c"))
    result = cli("check", str(a), str(b))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"{b}:2:11: error: applications[0].name: webhook path '/a-b-c' is also derived by "
                             f"project 'a-b' ({a}:2:11)\n")
    b.write_text(app.format(n="b-c").replace("git: {owner: o, repo: r, branch: main}", "image: nginx:1.27"))
    assert cli("check", str(a), str(b)).returncode == 0  # a prebuilt image has no webhook


def test_check_reports_every_file_and_duplicate_project_names(tmp_path, cli):
    (tmp_path / "x.yaml").write_text((EXAMPLES / "analytics.yaml").read_text())
    (tmp_path / "x.yml").write_text((EXAMPLES / "analytics.yaml").read_text())
    bad = REPO / "tests" / "fixtures" / "invalid" / "port-range.yaml"
    result = cli("check", str(tmp_path / "x.yaml"), str(tmp_path / "x.yml"), str(bad))
    assert result.returncode == 1 and result.stdout == ""
    assert f"{tmp_path / 'x.yml'}:1:1: error: project: project 'x' is also defined by {tmp_path / 'x.yaml'}" in result.stderr
    assert "applications[0].port: 99999 is greater than the maximum of 65535" in result.stderr
