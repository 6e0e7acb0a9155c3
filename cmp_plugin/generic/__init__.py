"""The generic plugin's entry point, `cmp-render generic-generate` (manifests/generic/plugin.yaml).

For Applications that are not project files: a Helm chart (`helm template` with Argo CD's
release name and namespace, HELM_ARGS and HELM_VALUES) or a directory of plain manifests, then
every argocd-vault-plugin placeholder resolved as `cmp-render resolve` does (docs/generic.md).

Same contract as `cmp-render generate`: the manifests in one write, only on success; on any
failure every problem on stderr, nothing on stdout, exit 1; exit 143 on SIGTERM; an internal
budget (CMP_TIMEOUT_SECONDS) stops a slow run with a readable message before Argo CD's deadline.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from cmp_plugin.argocd import (EXIT_FAILURE, EXIT_USAGE, TIMEOUT_ENV, _err, _has_object, _internal_error, _on_sigalrm,
                            _on_sigterm, _OutOfTime, _print_problems, _timeout, project_env)
from cmp_plugin.problems import Failure

HELM_ENV = "CMP_HELM"  # the helm executable (default: `helm` on the sidecar's PATH)


def generate(argv: list[str], runner=None) -> int:
    """One run; `runner` renders charts (default: the helm binary)."""
    if argv:
        _err(f"error: generic-generate takes no arguments (got {' '.join(argv)}); it reads Argo CD's environment")
        return EXIT_USAGE
    previous = {sig: signal.signal(sig, handler)
                for sig, handler in ((signal.SIGTERM, _on_sigterm), (signal.SIGALRM, _on_sigalrm))}
    try:
        return _generate(dict(os.environ), runner)
    finally:  # only matters when called in-process (tests)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def render(env: dict, runner=None, deadline: float | None = None) -> str:
    """The manifests for the request in `env` (cwd: the application's directory); raises Failure."""
    from cmp_plugin.generic.request import read_request
    from cmp_plugin.resolve.command import resolve_sources
    from cmp_plugin.resolve.files import parse, read_inputs

    request = read_request(env)
    if request.chart:
        from cmp_plugin.generic.helm import HelmBinary, build_request

        runner = runner or HelmBinary(env.get(HELM_ENV) or "helm")
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


def _generate(env: dict, runner) -> int:
    try:
        budget = _timeout(env)
        deadline = time.monotonic() + budget
        signal.setitimer(signal.ITIMER_REAL, budget)
        try:
            text = render(env, runner, deadline)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except Failure as failure:
        _print_problems(failure.problems)
        return EXIT_FAILURE
    except _OutOfTime:
        _err(f"error: generation took longer than {budget:g} s ({TIMEOUT_ENV}) and was stopped; "
             "is Vault or Helm slow? Argo CD would have killed it at its own deadline (60 s by default)")
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - the one place that turns a bug into a clean exit 1
        _internal_error(exc)
        return EXIT_FAILURE
    if not _has_object(text):
        _err("error: no manifests; refusing to print empty output (Argo CD would prune every object of the application)")
        return EXIT_FAILURE
    try:
        out = sys.stdout.buffer
        out.write(text.encode("utf-8"))  # one write of the whole text, only now that it is complete
        out.flush()
    except (OSError, ValueError) as exc:
        _err(f"error: cannot write the manifests to stdout: {exc}")
        return EXIT_FAILURE
    return 0
