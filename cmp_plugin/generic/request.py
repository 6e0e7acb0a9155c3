"""What Argo CD asks the generic plugin for: a Helm chart or a directory of manifests.

The working directory is the Application's `spec.source.path` in the repository copy that
argocd-cmp-server unpacked. With a `Chart.yaml` there it is a Helm chart, rendered with the
Application's name as the release and its destination namespace; otherwise every `.yaml`,
`.yml` and `.json` file below it (argocd-vault-plugin's order) is read.

The Application may set, as plugin env (`ARGOCD_ENV_<NAME>`): HELM_ARGS, HELM_VALUES, and
argocd-vault-plugin's variables, of which only AVP_KV_VERSION counts (cmp_plugin.secrets.config).
Any other name, and any parameter, is refused, so that a typo cannot silently change a render.
"""

from __future__ import annotations

import json
import os
from collections import namedtuple
from pathlib import Path
from typing import Mapping

from cmp_plugin.argocd.request import ENV_PREFIX, app_name, repo_root, vault_env_names
from cmp_plugin.problems import Failure, run_problem

HELM_ENV = ("HELM_ARGS", "HELM_VALUES")

GenericRequest = namedtuple("GenericRequest", "root cwd chart helm_args helm_values release namespace project")


def _problem(message: str) -> Failure:
    return Failure(run_problem(message, "argocd"))


def plugin_env(env: Mapping[str, str]) -> dict[str, str]:
    """HELM_ARGS and HELM_VALUES from the Application's plugin env; refuses unknown names."""
    vault = vault_env_names()
    values: dict[str, str] = {}
    for key in sorted(env):
        if not key.startswith(ENV_PREFIX) or key[len(ENV_PREFIX):] in vault:
            continue
        name = key[len(ENV_PREFIX):]
        if name.upper() not in HELM_ENV:
            raise _problem(f"unknown plugin env {name!r} (arrives as {key}); this plugin takes HELM_ARGS, HELM_VALUES"
                           " and the argocd-vault-plugin variables (AVP_*, VAULT_*)")
        if name.upper() in values and values[name.upper()] != env[key]:
            raise _problem(f"plugin env {name.upper()} is given twice with different values")
        values[name.upper()] = env[key]
    return values


def out_of_bounds_symlinks(directory: Path, root: Path) -> list[str]:
    """Symlinks below `directory` whose target leaves `root` (Helm follows them: `.Files.Get`
    could print any file of the sidecar, such as its Vault token)."""
    bad = []
    for dirpath, dirnames, filenames in os.walk(directory):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            if path.is_symlink():
                try:
                    path.resolve().relative_to(root)
                except (ValueError, OSError, RuntimeError):
                    bad.append(path.relative_to(root).as_posix())
    return bad


def read_request(env: Mapping[str, str], cwd: Path | None = None) -> GenericRequest:
    cwd = (cwd or Path.cwd()).resolve()
    root = repo_root(cwd, env)
    raw = (env.get("ARGOCD_APP_PARAMETERS") or "").strip()
    try:
        params = json.loads(raw) if raw else None
    except ValueError:
        params = raw
    if params or any(k.startswith("PARAM_") for k in env):
        raise _problem("this plugin takes no parameters; give Helm's arguments as plugin env HELM_ARGS or HELM_VALUES")
    values = plugin_env(env)
    chart = (cwd / "Chart.yaml").is_file()
    if not chart and values:
        raise _problem(f"{' and '.join(sorted(values))} given, but the application's directory"
                       f" ({cwd.relative_to(root).as_posix() or '.'}) has no Chart.yaml: it is read as plain manifests")
    bad = out_of_bounds_symlinks(cwd, root)
    if bad:
        raise _problem(f"symlinks that point outside the repository: {', '.join(bad[:5])}")
    release = app_name(env)
    if chart and not release:
        raise _problem("ARGOCD_APP_NAME is empty: Helm needs the Application's name as the release name")
    return GenericRequest(root=root, cwd=cwd, chart=chart, helm_args=values.get("HELM_ARGS", ""),
                          helm_values=values.get("HELM_VALUES", ""), release=release,
                          namespace=(env.get("ARGOCD_APP_NAMESPACE") or "").strip(),
                          project=(env.get("ARGOCD_APP_PROJECT_NAME") or "").strip())
