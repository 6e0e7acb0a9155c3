"""Resolve argocd-vault-plugin placeholders (`<path:kv/data/shop/db#password>`) from Vault.

`resolve_documents` is the `secrets` stage of the pipeline; `find_placeholders` is the
fail-closed scan the `check` stage runs on the final output. See docs/secrets.md.

Imports are lazy: `import cmp_plugin.secrets` loads nothing else, `find_placeholders` loads
only the scanner, and hvac/requests load only when a run actually reads from Vault.
"""

__all__ = ["find_placeholders", "resolve_documents"]


def __getattr__(name: str):
    if name == "find_placeholders":
        from cmp_plugin.secrets.documents import find_placeholders

        return find_placeholders
    if name == "resolve_documents":
        from cmp_plugin.secrets.resolve import resolve_documents

        return resolve_documents
    raise AttributeError(name)
