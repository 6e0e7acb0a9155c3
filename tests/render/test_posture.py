"""Workload posture measured by checkov's Kubernetes checks, pinned: every failing check is in
docs/posture.md's allow-list, which may not name a check of the kinds a platform relies on."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ._support import REPO

CHECKOV_VERSION = "3.3.30"
GOLDEN = REPO / "tests" / "golden"
POSTURE_DOC = REPO / "docs" / "posture.md"

# Checks that may never be allow-listed: securityContext, privilege escalation, privileged, root,
# capabilities, seccomp, service-account tokens, resource requests, memory limits, NetworkPolicy.
NEVER_ALLOWED = {
    "CKV_K8S_29", "CKV_K8S_30",                                    # securityContext
    "CKV_K8S_5", "CKV_K8S_20",                                      # privilege escalation
    "CKV_K8S_2", "CKV_K8S_16",                                      # privileged
    "CKV_K8S_6", "CKV_K8S_23",                                      # root
    "CKV_K8S_7", "CKV_K8S_24", "CKV_K8S_25", "CKV_K8S_28", "CKV_K8S_36", "CKV_K8S_37", "CKV_K8S_39",  # capabilities
    "CKV_K8S_31", "CKV_K8S_32",                                     # seccomp
    "CKV_K8S_38",                                                   # service-account tokens
    "CKV_K8S_10", "CKV_K8S_12",                                     # resource requests
    "CKV_K8S_13",                                                   # memory limits
    "CKV2_K8S_6",                                                   # NetworkPolicy
}


def allow_list() -> dict[str, str]:
    rows = re.findall(r"^\| `(CKV2?_K8S_\d+)` \| [^|]+ \| ([^|]+) \|$", POSTURE_DOC.read_text(), re.M)
    return {check: reason.strip() for check, reason in rows}


def _checkov() -> tuple[list[str], str]:
    """checkov's command and version. Beside this interpreter, its version is the installed
    distribution's (a `checkov --version` costs a whole checkov start-up)."""
    exe = Path(sys.executable).with_name("checkov")
    if exe.exists():
        return [str(exe)], importlib.metadata.version("checkov")
    found = shutil.which("checkov")
    if not found:
        pytest.skip(f"checkov is not installed (python3 -m pip install 'checkov=={CHECKOV_VERSION}')")
    version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=120).stdout.strip()
    return [found], version


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    checkov, version = _checkov()
    assert version == CHECKOV_VERSION, f"checkov {version} is installed; the allow-list is for {CHECKOV_VERSION}"
    work = tmp_path_factory.mktemp("posture")
    for golden in sorted(GOLDEN.glob("*.yaml")):
        shutil.copy(golden, work / golden.name)
    result = subprocess.run(checkov + ["-d", str(work), "--framework", "kubernetes", "-o", "json",
                                       "--skip-download"], capture_output=True, text=True, timeout=600)
    assert result.stdout.strip(), f"checkov printed nothing: {result.stderr[-2000:]}"
    data = json.loads(result.stdout)
    return data if isinstance(data, list) else [data]


def test_the_allow_list_names_no_check_a_platform_relies_on():
    allowed = allow_list()
    assert allowed, "docs/posture.md has no allow-list rows"
    assert not set(allowed) & NEVER_ALLOWED, sorted(set(allowed) & NEVER_ALLOWED)
    assert all(len(reason) > 20 for reason in allowed.values())


def test_every_failing_check_is_allow_listed(report):
    allowed = allow_list()
    failed = [(c["check_id"], c["resource"], c["file_path"]) for r in report for c in r["results"]["failed_checks"]]
    assert [f for f in failed if f[0] not in allowed] == []
    checked = sum(r["summary"]["passed"] + r["summary"]["failed"] for r in report)
    assert checked > 500, "checkov checked almost nothing: did it read the files?"


def test_no_check_is_skipped(report):
    assert [c["check_id"] for r in report for c in r["results"]["skipped_checks"]] == []
    for golden in GOLDEN.glob("*.yaml"):
        assert "checkov" not in golden.read_text()
