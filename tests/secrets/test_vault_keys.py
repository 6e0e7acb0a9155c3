"""`cmp-render vault-keys PROJECT_FILE [--check]` against a real OpenBao: every path and key a
project needs, and which of them Vault lacks, without ever printing a value."""

from __future__ import annotations

import os

import pytest

from cliutil import run_cli

PROJECT = """\
applications:
  - name: api
    git: {owner: acme, repo: api, branch: main, hash: 3f786850e387550fdab836ed7e6dc881de23001b}
    port: 8080
    secrets: [API_KEY, SIGNING_KEY]
    uses: [db]
databases:
  - {name: db, type: postgres, version: "17", port: 5432, size: 1Gi, database: app, user: app}
  - {name: cache, type: redis, version: "7.4", port: 6379, size: 1Gi}
"""
VALUE = "never-printed-"  # every stored value starts with it


def keys(prefix: str) -> list[str]:
    return [f"{prefix}/apps/api#API_KEY", f"{prefix}/apps/api#SIGNING_KEY", f"{prefix}/ci/github#token",
            f"{prefix}/ci/github#username", f"{prefix}/ci/github#webhook-secret",
            f"{prefix}/ci/registry#dockerconfigjson", f"{prefix}/databases/cache#password",
            f"{prefix}/databases/db#admin-password", f"{prefix}/databases/db#password"]


@pytest.fixture
def project(world, tmp_path):
    """A project of its own (its own Vault paths) with every key stored; (file, name, prefix)."""
    name = world.unique("vk")
    file = tmp_path / f"{name}.yaml"
    file.write_text(PROJECT)
    for path in ("apps/api", "ci/github", "ci/registry", "databases/cache", "databases/db"):
        wanted = [k.split("#")[1] for k in keys("") if k.startswith(f"/{path}#")]
        world.bao.put_kv2("kv", f"{name}/{path}", {k: VALUE + k for k in wanted})
    return file, name, f"kv/data/{name}"


@pytest.fixture
def vault_keys(monkeypatch, capsys, proxy, cache_dir, world):
    """cmp-render vault-keys in this process, with Vault (through the counting proxy) and the root token."""
    for key in list(os.environ):
        if key.startswith(("CMP_", "VAULT_", "AVP_", "ARGOCD_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("VAULT_ADDR", proxy.addr)
    monkeypatch.setenv("VAULT_TOKEN", world.root)
    monkeypatch.setenv("CMP_VAULT_CACHE_DIR", cache_dir)
    from cmp_plugin import cli

    def run(*args):
        code = cli.main(["vault-keys", *map(str, args)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_lists_every_path_and_key_without_vault(project, vault_keys, monkeypatch, proxy):
    file, name, prefix = project
    monkeypatch.delenv("VAULT_ADDR")
    code, out, err = vault_keys(file)
    assert (code, err) == (0, "")
    assert out.splitlines() == keys(prefix)
    assert proxy.seen == []


def test_check_passes_when_every_key_exists(project, vault_keys, proxy):
    file, name, prefix = project
    code, out, err = vault_keys("--check", file)
    assert (code, out, err) == (0, "\n".join(keys(prefix)) + "\n", "9 keys at 5 Vault paths exist\n")
    assert len(proxy.reads()) == 5  # one read per path


def test_check_names_every_missing_key_and_prints_no_value(project, vault_keys, world):
    file, name, prefix = project
    bao = world.bao
    bao.put_kv2("kv", f"{name}/apps/api", {"API_KEY": VALUE + "a", "SIGNING_KEY": None})  # null is missing
    bao.put_kv2("kv", f"{name}/ci/github", {"token": "", "username": VALUE + "u", "webhook-secret": VALUE + "w",
                                             "extra": VALUE + "x"})  # "" is a value
    bao.api("DELETE", f"kv/metadata/{name}/databases/db")
    code, out, err = vault_keys("--check", file)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"error: {prefix}/apps/api#SIGNING_KEY: missing in Vault (the path has no such key)",
        f"error: {prefix}/databases/db#admin-password: Could not find secrets at path {prefix}/databases/db",
        f"error: {prefix}/databases/db#password: Could not find secrets at path {prefix}/databases/db",
    ]
    assert VALUE not in err


def test_check_with_the_projects_own_least_privilege_token(world, vault_keys, monkeypatch, tmp_path):
    """With the prefix under the shop policy, the shop token reads; without it, Vault says 403 per path."""
    name = world.unique("vk")
    file = tmp_path / f"{name}.yaml"
    file.write_text("applications:\n  - {name: web, image: 'nginx:1.27', secrets: [TOKEN]}\n")
    world.bao.put_kv2("kv", f"shop/{name}/apps/web", {"TOKEN": VALUE})
    monkeypatch.setenv("VAULT_TOKEN", world.shop_token)
    monkeypatch.setenv("CMP_VAULT_PREFIX", "kv/data/shop/{project}")
    assert vault_keys("--check", file)[0] == 0
    monkeypatch.setenv("CMP_VAULT_PREFIX", "kv/data/{project}")
    code, out, err = vault_keys("--check", file)
    assert (code, out) == (1, "")
    assert err.startswith(f"error: kv/data/{name}/apps/web#TOKEN: Error making API request. URL: GET ")
    assert "Code: 403" in err and VALUE not in err


def test_check_when_vault_is_unreachable_says_so_once(project, vault_keys, monkeypatch):
    file, _, _ = project
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:9")
    code, out, err = vault_keys("--check", file)
    assert (code, out) == (1, "")
    (line,) = err.splitlines()
    assert line.startswith("error: Vault is unreachable at http://127.0.0.1:9: ") and line.endswith("; 9 keys not checked")


def test_check_without_vault_configuration(project, vault_keys, monkeypatch):
    file, _, _ = project
    monkeypatch.delenv("VAULT_ADDR")
    monkeypatch.delenv("VAULT_TOKEN")
    code, out, err = vault_keys("--check", file)
    assert (code, out) == (1, "")
    assert "error: VAULT_ADDR is not set: the sidecar needs the Vault address\n" in err


def test_vault_keys_through_the_command_line(tmp_path):
    file = tmp_path / "shop.yaml"
    file.write_text("applications:\n  - {name: web, image: 'nginx:1.27', secrets: [TOKEN]}\n")
    result = run_cli("vault-keys", str(file))
    assert (result.returncode, result.stdout, result.stderr) == (0, "kv/data/shop/apps/web#TOKEN\n", "")
