"""The Vault paths `cmp-render resolve` may read: allowed prefixes, or every path on request.

Prefixes come from `--prefix` (repeatable) and the sidecar's `CMP_RESOLVE_PREFIXES`
(comma-separated); every path read must lie strictly below one of them. A prefix may use
`{app}`, `{project}` and `{namespace}`: the Application's name, its AppProject and its
destination namespace, from the variables Argo CD sets for a plugin run (ARGOCD_APP_NAME,
ARGOCD_APP_PROJECT_NAME, ARGOCD_APP_NAMESPACE). Reading any path needs `--any-path` or
`CMP_RESOLVE_ANY_PATH=true`; with neither, nothing may be read and the run says how to set it.
Both settings are sidecar-only (an Application's `ARGOCD_ENV_` form is ignored).
"""

from __future__ import annotations

import re
from typing import Mapping

from cmp_plugin.problems import Failure, run_problem
from cmp_plugin.secrets.config import setting
from cmp_plugin.settings import knob_value
from cmp_plugin.secrets.paths import Scope, prefix_problem

PREFIXES_ENV = "CMP_RESOLVE_PREFIXES"
ANY_PATH_ENV = "CMP_RESOLVE_ANY_PATH"
PLACEHOLDERS = {"app": "ARGOCD_APP_NAME", "project": "ARGOCD_APP_PROJECT_NAME", "namespace": "ARGOCD_APP_NAMESPACE"}
_SEGMENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_FIELD = re.compile(r"\{([^{}]*)\}")

HOW = (f"allow paths with --prefix PREFIX (repeatable) or {PREFIXES_ENV}=PREFIX,... in the sidecar's environment"
       f" (e.g. kv/data/{{project}}), or every path with --any-path or {ANY_PATH_ENV}=true")


def placeholder_value(name: str, env: Mapping[str, str]) -> str:
    value = (env.get(PLACEHOLDERS[name]) or "").strip()
    if name == "app":
        value = value.rsplit("_", 1)[-1]  # `<appNamespace>_<name>` for apps in any namespace
    return value


def expand(prefix: str, env: Mapping[str, str]) -> str:
    """`prefix` with its placeholders filled in; Failure naming what is missing or unusable."""
    def fill(m: re.Match) -> str:
        name = m.group(1)
        if name not in PLACEHOLDERS:
            raise Failure(run_problem(f"prefix {prefix}: unknown placeholder {{{name}}}; use {{app}}, {{project}}"
                                      " or {namespace}", "vault-prefix"))
        value = placeholder_value(name, env)
        if not value:
            raise Failure(run_problem(f"prefix {prefix} uses {{{name}}}, but {PLACEHOLDERS[name]} is empty (Argo CD"
                                      " sets it when it runs the plugin)", "vault-prefix"))
        if not _SEGMENT.fullmatch(value) or ".." in value:
            raise Failure(run_problem(f"prefix {prefix}: {PLACEHOLDERS[name]} is not usable as a path segment",
                                      "vault-prefix"))
        return value

    expanded = _FIELD.sub(fill, prefix)
    if "{" in expanded or "}" in expanded:
        raise Failure(run_problem(f"prefix {prefix}: unbalanced braces", "vault-prefix"))
    problem = prefix_problem(expanded)
    if problem:
        raise Failure(run_problem(f"{problem} (from {prefix})" if expanded != prefix else problem, "vault-prefix"))
    return expanded


def scope_from(env: Mapping[str, str], prefixes: list[str] = (), any_path: bool = False) -> Scope:
    """The Scope of a run from its flags and the sidecar's settings. When they allow nothing (or
    are wrong), the Scope carries the refusal: it matters only if something must be read."""
    try:
        return _scope(env, prefixes, any_path)
    except Failure as failure:
        return Scope(refusal="; ".join(p.message for p in failure.problems))


def _scope(env: Mapping[str, str], prefixes: list[str], any_path: bool) -> Scope:
    any_setting, problem = knob_value(ANY_PATH_ENV, setting(env, ANY_PATH_ENV))
    if problem:
        raise Failure(run_problem(problem, "vault-prefix"))
    if any_path or any_setting:
        return Scope(any_path=True)
    given = list(prefixes) + list(knob_value(PREFIXES_ENV, setting(env, PREFIXES_ENV))[0])
    if not given:
        raise Failure(run_problem(f"no Vault path is allowed: {HOW}", "vault-prefix"))
    expanded = tuple(dict.fromkeys(expand(p.strip().rstrip("/"), env) for p in given))
    return Scope(expanded, "the allowed prefixes", f" (--prefix, {PREFIXES_ENV})")
