"""`cmp-render settings`: the effective settings as a settings file, so that CI (`--settings FILE`)
renders exactly what the sidecar renders; and the sidecar never reads settings from the
repository it renders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from cliutil import EXAMPLES, REPO
from cmp_plugin.settings import FIELDS, load_settings, settings_file_text
from render._support import SETTINGS_VARIANTS

MANIFESTS = REPO / "manifests"


def round_trip(settings, tmp_path) -> object:
    path = tmp_path / "printed.yaml"
    path.write_text(settings_file_text(settings))
    return load_settings(env={}, file=str(path))


@pytest.mark.parametrize("variant", sorted(SETTINGS_VARIANTS))
def test_printed_settings_read_back_equal(variant, tmp_path):
    settings = load_settings(env=dict(SETTINGS_VARIANTS[variant]))
    assert round_trip(settings, tmp_path) == settings


def test_every_setting_is_printed_with_overrides_and_dropped_maps(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "project_overrides:\n  big: {quota: {pods: 500}, limit_range: {default.memory: 2Gi}}\n"
        "  tiny: {quota: null, limit_range: null}\n"
        "reserved_namespaces: [monitoring, 'platform-*']\nstorage_class: fast\n")
    settings = load_settings(env={"CMP_QUOTA": "requests.cpu=2,requests.memory=4Gi,limits.memory=8Gi,pods=9",
                                  "CMP_PUSH_LATEST": "yes", "CMP_EVENTBUS_REPLICAS": "3"},
                             file=str(tmp_path / "s.yaml"))
    text = settings_file_text(settings)
    data = yaml.safe_load(text)
    assert list(data) == [f.name for f in FIELDS]
    assert data["project_overrides"] == {"big": {"limit_range": {"default.memory": "2Gi"}, "quota": {"pods": "500"}},
                                         "tiny": {"limit_range": None, "quota": None}}
    assert (data["push_latest"], data["eventbus_replicas"], data["quota"]["pods"]) == (True, 3, "9")
    assert round_trip(settings, tmp_path) == settings
    assert round_trip(settings, tmp_path).quota_for("tiny") == {}
    assert round_trip(settings, tmp_path).limit_range_for("big")["default.memory"] == "2Gi"


def _env_file(path: Path) -> dict:
    pairs = (line.partition("=") for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {k: v for k, _, v in pairs}


def test_the_shipped_sidecar_settings_print_to_a_file_that_renders_the_same(tmp_path):
    """What a platform does: `cmp-render settings` in the sidecar (settings.env and settings.yaml),
    the output committed as CI's copy, CI renders with `--settings` and no CMP_* variables."""
    from cmp_plugin.pipeline import render_file

    sidecar_env = {**_env_file(MANIFESTS / "settings.env"), "CMP_SETTINGS_FILE": str(MANIFESTS / "settings.yaml"),
                   "CMP_INGRESS_NAMESPACE": "kube-system", "CMP_VAULT_PREFIX": "secret/data/teams/{project}"}
    sidecar = load_settings(env=sidecar_env)
    ci = round_trip(sidecar, tmp_path)
    assert ci == sidecar
    for project in ("shop.yaml", "blog.yaml"):
        assert render_file(str(EXAMPLES / project), settings=ci, env={}) == \
            render_file(str(EXAMPLES / project), env=sidecar_env)


def test_settings_hold_no_vault_credentials(monkeypatch, capsys):
    for key in list(os.environ):
        if key.startswith(("CMP_", "VAULT_", "AVP_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("VAULT_TOKEN", "s.very-secret-token")
    monkeypatch.setenv("AVP_SECRET_ID", "very-secret-id")
    monkeypatch.setenv("CMP_REGISTRY", "harbor.lan")
    from cmp_plugin import cli

    assert cli.main(["settings"]) == 0
    out, err = capsys.readouterr()
    assert "registry: harbor.lan\n" in out and "very-secret" not in out + err


def test_a_bad_setting_fails_the_command(monkeypatch, capsys):
    monkeypatch.setenv("CMP_EVENTBUS_REPLICAS", "2")
    from cmp_plugin import cli

    assert cli.main(["settings"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: CMP_EVENTBUS_REPLICAS: ")


def test_settings_through_the_command_line(tmp_path, cli):
    result = cli("settings")
    assert (result.returncode, result.stderr) == (0, "")
    (tmp_path / "s.yaml").write_text(result.stdout)
    assert load_settings(env={}, file=str(tmp_path / "s.yaml")) == load_settings(env={})


# ---- the sidecar never reads settings from the repository

def test_the_sidecar_settings_file_must_be_outside_the_repository(tmp_path):
    from cmp_plugin.argocd import settings_file_problem

    repo = tmp_path / "_cmp_server" / "abc123"
    (repo / "projects").mkdir(parents=True)
    (repo / "settings.yaml").write_text("vault_prefix: kv/data/other\n")
    (tmp_path / "link").symlink_to(repo / "settings.yaml")
    outside = tmp_path / "settings.yaml"
    outside.write_text("{}\n")
    assert settings_file_problem({}, repo) == ""
    assert settings_file_problem({"CMP_SETTINGS_FILE": str(outside)}, repo) == ""
    assert settings_file_problem({"CMP_SETTINGS_FILE": "settings.yaml"}, repo).startswith(
        "CMP_SETTINGS_FILE must be an absolute path")
    for inside in (repo / "settings.yaml", tmp_path / "link", repo / "projects" / ".." / "settings.yaml"):
        assert settings_file_problem({"CMP_SETTINGS_FILE": str(inside)}, repo) == (
            "CMP_SETTINGS_FILE is inside the repository being rendered; platform settings never come from it")
    # a sibling whose name merely starts like the repository's is outside it
    sibling = tmp_path / "_cmp_server" / "abc1234.yaml"
    sibling.write_text("{}\n")
    assert settings_file_problem({"CMP_SETTINGS_FILE": str(sibling)}, repo) == ""
