"""Golden output of the example projects, with default settings. UPDATE_GOLDEN=1 rewrites them."""

import functools
import json
import os
import subprocess
import sys

import pytest
import yaml

from cliutil import EXAMPLES, REPO, clean_env

GOLDEN = REPO / "tests" / "golden"
PROJECTS = sorted(EXAMPLES.glob("*.yaml"))


@functools.cache
def golden_docs(name: str) -> list[dict]:
    return list(yaml.load_all((GOLDEN / name).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.stem)
def test_golden_output(project, cli):
    result = cli(project.relative_to(REPO))
    assert result.returncode == 0, result.stderr
    golden = GOLDEN / project.name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(result.stdout)
    assert result.stdout == golden.read_text()


# Every example rendered by one process per hash seed: the seed is fixed when a process starts.
RENDER_ALL = """
import contextlib, io, json, sys
from cmp_plugin.cli import main
out = {}
for path in sys.argv[1:]:
    with contextlib.redirect_stdout(io.StringIO()) as text:
        main([path])
    out[path] = text.getvalue()
json.dump(out, sys.stdout)
"""


@pytest.fixture(scope="module")
def renders_per_seed() -> list[dict]:
    renders = []
    for seed in ("0", "1", "12345"):
        env = clean_env(PYTHONHASHSEED=seed, PYTHONPATH=str(REPO))
        done = subprocess.run([sys.executable, "-c", RENDER_ALL, *map(str, PROJECTS)], capture_output=True,
                              text=True, env=env, cwd=REPO, timeout=120, check=True)
        renders.append(json.loads(done.stdout))
    return renders


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.stem)
def test_output_is_byte_identical_across_runs_and_hash_seeds(project, renders_per_seed):
    outputs = {render[str(project)] for render in renders_per_seed}
    assert len(outputs) == 1 and outputs.pop()


def test_golden_files_cover_what_the_examples_promise():
    docs = {p.stem: golden_docs(p.name) for p in PROJECTS}
    db_types = {c["image"].split(":")[0] for objs in docs.values() for d in objs if d["kind"] == "StatefulSet"
                for c in d["spec"]["template"]["spec"]["containers"]}
    assert db_types == {"mysql", "postgres", "redis", "mongo"}
    shop = {(d["kind"], d["metadata"]["name"]) for d in docs["shop"]}
    # mailer has no hash: its CI exists, its Deployment does not
    assert ("WorkflowTemplate", "shop-mailer-build-workflow-template") in shop
    assert ("Deployment", "mailer-app") not in shop and ("Deployment", "api-app") in shop
    # blog's postgres is backed up: a CronJob and the claim it writes to
    blog = {(d["kind"], d["metadata"]["name"]) for d in docs["blog"]}
    assert {("CronJob", "blog-db-backup"), ("PersistentVolumeClaim", "blog-db-backup")} <= blog
    analytics = {d["kind"] for d in docs["analytics"]}
    assert analytics == {"Secret", "Service", "StatefulSet", "NetworkPolicy", "ResourceQuota", "LimitRange"}


# The README's install order, written out here rather than taken from the code under test.
INSTALL_ORDER = ["NetworkPolicy", "ResourceQuota", "LimitRange", "ServiceAccount", "Secret", "ConfigMap",
                 "PersistentVolumeClaim", "Role", "RoleBinding", "Service", "StatefulSet", "Deployment", "EventBus",
                 "EventSource", "Sensor", "WorkflowTemplate", "IngressRoute"]


def out_of_order(docs: list[dict]) -> list[str]:
    """Neighbours that break 'kind in install order (other kinds after, by name), then namespace, name'."""
    def key(d):
        kind = d["kind"]
        rank = INSTALL_ORDER.index(kind) if kind in INSTALL_ORDER else len(INSTALL_ORDER)
        return rank, kind, d["metadata"].get("namespace", ""), d["metadata"]["name"]
    return [f"{key(a)} before {key(b)}" for a, b in zip(docs, docs[1:]) if key(a) > key(b)]


def test_readme_states_the_install_order():
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "sorted by kind in install order (" + ", ".join(INSTALL_ORDER) + ", then other kinds)" in readme


def test_the_order_check_catches_a_swap():
    docs = [{"kind": "Service", "metadata": {"name": "a"}}, {"kind": "Secret", "metadata": {"name": "b"}}]
    assert out_of_order(docs) and not out_of_order(docs[::-1])


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.stem)
def test_documented_order_kind_then_name(project):
    docs = golden_docs(project.name)
    assert out_of_order(docs) == []
    if project.stem == "shop":
        # what constrains pods (policies, quota, default limits) before anything that makes pods
        assert [d["kind"] for d in docs[:7]] == ["NetworkPolicy"] * 5 + ["ResourceQuota", "LimitRange"]
        assert docs[7]["kind"] == "ServiceAccount" and docs[-1]["kind"] == "IngressRoute"


def test_installed_console_script_matches_module(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "cmp-render")
    if not os.path.exists(exe):
        pytest.skip("cmp-render console script not installed in this interpreter's bin directory")
    direct = subprocess.run([exe, str(EXAMPLES / "shop.yaml")], capture_output=True, text=True, env=clean_env())
    assert direct.returncode == 0 and direct.stdout == (GOLDEN / "shop.yaml").read_text()


SECRETS_MODES = ("external-secrets", "vault-secrets-operator")


@pytest.mark.parametrize("mode", SECRETS_MODES)
def test_golden_output_of_the_operator_modes(mode, cli, monkeypatch):
    """blog.yaml rendered for each secrets operator: tests/golden/modes/blog.<mode>.yaml."""
    monkeypatch.setenv("CMP_SECRETS_MODE", mode)
    result = cli("examples/projects/blog.yaml")
    assert result.returncode == 0, result.stderr
    golden = GOLDEN / "modes" / f"blog.{mode}.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(result.stdout)
    assert result.stdout == golden.read_text()
