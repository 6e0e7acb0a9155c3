"""`cmp-render resolve`: argocd-vault-plugin's `generate`, for plain manifests (docs/resolve.md)."""
