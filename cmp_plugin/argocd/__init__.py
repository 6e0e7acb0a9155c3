"""Argo CD entry points: `cmp-render generate|discover|parameters` (plugin.yaml execs them, no shell).

* `generate`: renders the project named by the request (see `cmp_plugin.argocd.request`) under
  the contract of `cmp_plugin.argocd.run` (one write only on success, a time budget, SIGTERM).
* `discover`: prints the project file it would use and exits 0; prints nothing (no match) when
  the request has no plugin block, so it can never claim an Application that did not ask for a
  plugin. The shipped plugin.yaml does not use it (name-only, see docs/argocd.md).
* `parameters`: prints only a JSON array of parameter announcements, whatever the environment.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Mapping

from cmp_plugin.argocd.run import EXIT_USAGE, err, run_within_budget
from cmp_plugin.problems import Failure, internal_error, run_problem
from cmp_plugin.settings import debug, knob

COMMANDS = ("generate", "discover", "parameters")


ROLE_ENV = "AVP_K8S_ROLE"


def project_env(env: dict, project: str) -> dict:
    """The environment the pipeline gets: `{project}` in the sidecar's AVP_K8S_ROLE becomes the
    project name, so each project logs in to Vault with its own role (cmp-{project} -> cmp-shop),
    whose policy reads only that project's secrets (manifests/vault/)."""
    role = env.get(ROLE_ENV)
    if role and "{project}" in role:
        env = dict(env)
        env[ROLE_ENV] = role.replace("{project}", project)
    return env


SETTINGS_ENV = "CMP_SETTINGS_FILE"


def settings_file_problem(env: Mapping[str, str], root: Path) -> str:
    """Platform settings never come from the repository being rendered, so a pull request cannot
    change them: the sidecar's settings file must be an absolute path outside the repository copy
    (a relative one would be opened in it: commands run in the repository)."""
    file = knob(env, SETTINGS_ENV)
    if not file:
        return ""
    if not os.path.isabs(file):
        return (f"{SETTINGS_ENV} must be an absolute path: a relative one would be read from the repository "
                "being rendered, and platform settings never come from a project's repository")
    real, top = os.path.realpath(file), os.path.realpath(root)
    if real == top or real.startswith(top.rstrip(os.sep) + os.sep):
        return f"{SETTINGS_ENV} is inside the repository being rendered; platform settings never come from it"
    return ""


def generate(argv: list[str]) -> int:
    if argv:
        err(f"error: generate takes no arguments (got {' '.join(argv)}); it reads Argo CD's environment")
        return EXIT_USAGE
    env = dict(os.environ)
    return run_within_budget(env, lambda deadline: _render(env), "is Vault slow or unreachable?")


def _render(env: dict) -> str:
    from cmp_plugin.argocd.request import effective_project, resolve

    request = resolve(env)
    problem = settings_file_problem(env, request.root)
    if problem:
        raise Failure(run_problem(problem, "settings"))
    # Messages name the file as the repository does (projects/shop.yaml:3:5: ...), also when
    # Argo CD sent only projects/ (reposerver.plugin.use.manifest.generate.paths).
    os.chdir(request.root)
    from cmp_plugin.pipeline import render_file

    return render_file(request.file, project=request.project, settings=None, secrets=request.secrets,
                       env=project_env(env, effective_project(request)), display=request.display)


def discover(argv: list[str]) -> int:
    if argv:
        err(f"error: discover takes no arguments (got {' '.join(argv)})")
        return EXIT_USAGE
    from cmp_plugin.argocd.request import has_plugin_block, resolve

    env = dict(os.environ)
    if not has_plugin_block(env):
        return 0  # no plugin block: auto-detection of some other app; never claim it
    try:
        request = resolve(env)
    except Failure as failure:
        err("discover: no match: " + "; ".join(p.message for p in failure.problems))
        return 0
    except Exception as exc:  # noqa: BLE001 - a non-zero exit is an error in Argo CD, not "no match"
        internal_error(exc, debug())
        return 0
    sys.stdout.write(request.display + "\n")
    sys.stdout.flush()
    return 0


def parameters(argv: list[str]) -> int:
    if argv:
        err(f"error: parameters takes no arguments (got {' '.join(argv)})")
        return EXIT_USAGE
    try:
        from cmp_plugin.argocd.request import announcements

        items = announcements(dict(os.environ))
    except Exception as exc:  # noqa: BLE001 - the Parameters tab must always get a JSON array
        internal_error(exc, debug())
        items = []
    sys.stdout.write(json.dumps(items) + "\n")
    sys.stdout.flush()
    return 0


def main(command: str, argv: list[str]) -> int:
    """Run one Argo CD command; returns the exit code."""
    if command == "generate":
        return generate(list(argv))
    if command == "discover":
        return discover(list(argv))
    if command == "parameters":
        return parameters(list(argv))
    err(f"error: unknown command {command!r}; expected one of {', '.join(COMMANDS)}")
    return EXIT_USAGE
