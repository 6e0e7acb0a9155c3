"""Every ported case that differs from argocd-vault-plugin on purpose is listed in docs/secrets.md."""

from avp_support import DIFFERENCES, listed_in_docs


def test_every_difference_is_documented():
    missing = [case for case in DIFFERENCES if not listed_in_docs(case)]
    assert not missing, f"add these to docs/secrets.md, 'Ported test cases that differ': {missing}"
