"""argocd.run.run_within_budget: the contract both plugins' `generate` share, in-process."""

import time

import pytest

from cmp_plugin.argocd.run import run_within_budget
from cmp_plugin.problems import Failure, Problem

OBJECT = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"


def _bug(deadline):
    raise KeyError("s3cr3t-value")


def _slow(deadline):
    time.sleep(5)
    return OBJECT


@pytest.mark.parametrize("produce, code, err", [
    (lambda d: OBJECT, 0, ""),
    (lambda d: OBJECT.rstrip("\n"), 0, ""),
    (lambda d: (_ for _ in ()).throw(Failure([Problem("p.yaml", 3, 5, "a.b", "bad"), Problem("p.yaml", 4, 1, "", "worse")])),
     1, "p.yaml:3:5: error: a.b: bad\np.yaml:4:1: error: worse\n"),
    (_bug, 70, "error: internal error (KeyError at test_plugin_run.py:"),
    (lambda d: "", 1, "error: the renderer produced no manifests; refusing to print empty output"),
    (lambda d: "---\nnull\n", 1, "error: the renderer produced no manifests"),
    (lambda d: None, 1, "error: the renderer produced no manifests"),
])
def test_outcomes(produce, code, err, capsysbinary, monkeypatch):
    monkeypatch.delenv("CMP_DEBUG", raising=False)
    assert run_within_budget({}, produce, "is it slow?") == code
    out, stderr = capsysbinary.readouterr()
    assert stderr.decode().startswith(err) if err else stderr == b""
    assert out == (OBJECT.encode() if code == 0 else b"")
    assert b"s3cr3t" not in stderr


def test_the_budget_stops_a_slow_run_with_the_callers_hint(capsysbinary):
    started = time.monotonic()
    assert run_within_budget({"CMP_TIMEOUT_SECONDS": "0.2"}, _slow, "is Vault slow?") == 1
    assert time.monotonic() - started < 4
    out, err = capsysbinary.readouterr()
    assert out == b""
    assert err.decode().startswith("error: generation took longer than 0.2 s (CMP_TIMEOUT_SECONDS) and was stopped; "
                                   "is Vault slow? Argo CD would have killed it")


def test_the_deadline_handed_to_the_producer_is_the_budget(capsysbinary):
    seen = []
    run_within_budget({"CMP_TIMEOUT_SECONDS": "30"}, lambda d: seen.append(d - time.monotonic()) or OBJECT, "")
    assert 29 < seen[0] <= 30


def test_a_bad_budget_is_a_problem_not_a_crash(capsysbinary):
    assert run_within_budget({"CMP_TIMEOUT_SECONDS": "later"}, lambda d: OBJECT, "") == 1
    out, err = capsysbinary.readouterr()
    assert out == b"" and err == b"error: CMP_TIMEOUT_SECONDS='later': expected seconds above 0 and at most 3600\n"


def test_debug_adds_the_traceback_to_an_internal_error(capsysbinary, monkeypatch):
    monkeypatch.setenv("CMP_DEBUG", "true")
    assert run_within_budget({}, _bug, "") == 70
    err = capsysbinary.readouterr()[1].decode()
    assert "Traceback (most recent call last)" in err and err.rstrip().splitlines()[-1].startswith("error: internal error")
