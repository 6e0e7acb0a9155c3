"""The generic plugin's entry point, `cmp-render generic-generate` (manifests/generic/plugin.yaml).

For Applications that are not project files: a Helm chart (`helm template` with Argo CD's
release name and namespace, HELM_ARGS and HELM_VALUES) or a directory of plain manifests, then
every argocd-vault-plugin placeholder resolved as `cmp-render resolve` does (docs/generic.md).

Same contract as `cmp-render generate` (cmp_plugin/argocd/run.py): the manifests in one write,
only on success; on any failure every problem on stderr and nothing on stdout; exit 143 on
SIGTERM; an internal budget (CMP_TIMEOUT_SECONDS) stops a slow run before Argo CD's deadline.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from cmp_plugin.argocd import project_env
from cmp_plugin.argocd.run import EXIT_USAGE, err, run_within_budget
from cmp_plugin.problems import Failure
from cmp_plugin.settings import knob

HELM_ENV = "CMP_HELM"  # the helm executable (default: `helm` on the sidecar's PATH)


def generate(argv: list[str], runner=None) -> int:
    """One run; `runner` renders charts (default: the helm binary)."""
    if argv:
        err(f"error: generic-generate takes no arguments (got {' '.join(argv)}); it reads Argo CD's environment")
        return EXIT_USAGE
    env = dict(os.environ)
    return run_within_budget(env, lambda deadline: render(env, runner, deadline), "is Vault or Helm slow?")


def render(env: dict, runner=None, deadline: float | None = None) -> str:
    """The manifests for the request in `env` (cwd: the application's directory); raises Failure."""
    from cmp_plugin.generic.request import read_request
    from cmp_plugin.resolve.command import resolve_sources
    from cmp_plugin.resolve.files import parse, read_inputs

    request = read_request(env)
    if request.chart:
        from cmp_plugin.generic.helm import HelmBinary, build_request

        runner = runner or HelmBinary(knob(env, HELM_ENV))
        with tempfile.TemporaryDirectory(prefix="cmp-generic-") as work:
            helm = build_request(request.cwd, request.root, request.release, request.namespace, request.helm_args,
                                 request.helm_values, Path(work))
            remaining = (deadline - time.monotonic()) if deadline else 40.0
            text = runner.template(helm, timeout=max(1.0, remaining - 5.0))
        sources, problems = parse(text, "helm template")
    else:
        sources, problems = read_inputs([str(request.cwd)], root=str(request.root))
        rel = len(str(request.root)) + 1
        for s in sources:
            s.file = s.file[rel:]  # messages name files relative to the repository
        problems = [p._replace(file=p.file[rel:]) if p.file.startswith(str(request.root)) else p for p in problems]
    if problems:
        raise Failure(problems)
    if request.project:  # AVP_K8S_ROLE=...{project}...: one Vault role per AppProject
        env = project_env(env, request.project)
    return resolve_sources(sources, env)
