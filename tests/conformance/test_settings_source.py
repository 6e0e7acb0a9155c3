"""The sidecar never reads platform settings from the repository it renders: a pull request to
the gitops repository cannot change `vault_prefix` or any other setting."""

from __future__ import annotations

import harness
from support import keep


def test_a_relative_settings_file_is_refused_not_read_from_the_repository(tmp_path, our_apps):
    """argocd-cmp-server runs generate inside the repository copy, where a relative
    CMP_SETTINGS_FILE would name a file that anyone who can push may write."""
    cmp = harness.Harness(tmp_path, sidecar_env={"CMP_SETTINGS_FILE": "settings.yaml"})

    def plant(root):
        for where in (root, root / "projects"):
            (where / "settings.yaml").write_text("vault_prefix: kv/data/other/{project}\n")

    result = cmp.run(keep(our_apps["alpha"]), mutate=plant)
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr == ("error: CMP_SETTINGS_FILE must be an absolute path: a relative one would be read from "
                             "the repository being rendered, and platform settings never come from a project's "
                             "repository\n")
    # the same file given as the platform's own absolute path is read
    (tmp_path / "settings.yaml").write_text("vault_prefix: kv/data/teams/{project}\n")
    cmp = harness.Harness(tmp_path, sidecar_env={"CMP_SETTINGS_FILE": str(tmp_path / "settings.yaml")})
    result = cmp.run(keep(our_apps["alpha"]))
    assert result.ok, result.error
    assert b"<path:kv/data/teams/alpha/" in result.stdout
