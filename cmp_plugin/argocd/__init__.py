"""Argo CD entry points: `cmp-render generate|discover|parameters` (plugin.yaml execs them, no shell).

* `generate`: renders the project named by the request (see `cmp_plugin.argocd.request`) and prints
  the manifests in one write, only on success. On any failure: every problem on stderr, nothing on
  stdout, exit 1. Never exit 0 with empty output (Argo CD would prune everything).
  SIGTERM (Argo CD's deadline, sent to the whole process group) ends the run at once with exit 143
  and nothing on stdout; an internal budget (`CMP_TIMEOUT_SECONDS`, default 45) fails the run with
  a readable message before Argo CD's 60 s deadline does it without one.
* `discover`: prints the project file it would use and exits 0; prints nothing (no match) when
  the request has no plugin block, so it can never claim an Application that did not ask for a
  plugin. The shipped plugin.yaml does not use it (name-only, see docs/argocd.md).
* `parameters`: prints only a JSON array of parameter announcements, whatever the environment.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import traceback
from pathlib import Path
from typing import Mapping

from cmp_plugin.problems import Failure, Problem, run_problem

COMMANDS = ("generate", "discover", "parameters")
TIMEOUT_ENV = "CMP_TIMEOUT_SECONDS"
DEFAULT_TIMEOUT = 45.0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143, what a shell reports for a SIGTERM'd command


class _OutOfTime(BaseException):
    """Raised by SIGALRM; a BaseException so that no library's `except Exception` swallows it."""


def _err(text: str) -> None:
    try:
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _on_sigterm(signum, frame) -> None:  # pragma: no cover - exercised in a subprocess by the conformance tests
    # Argo CD's deadline passed (or the pod stops). Nothing has been written to stdout yet, or a
    # partial write is under way, which Argo CD discards with the non-zero exit. os._exit skips
    # stdio flushing and atexit; we start no child processes, and the group signal reached any a
    # library might have started.
    try:
        os.write(2, b"error: terminated by SIGTERM (Argo CD's repo-server deadline passed?); no output\n")
    except OSError:
        pass
    os._exit(EXIT_TERMINATED)


def _on_sigalrm(signum, frame) -> None:
    raise _OutOfTime()


def _timeout(env) -> float:
    raw = (env.get(TIMEOUT_ENV) or "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise Failure(run_problem(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds")) from None
    if not 0 < value <= 3600:
        raise Failure(run_problem(f"{TIMEOUT_ENV}={raw!r} must be between 0 and 3600 seconds"))
    return value


def _print_problems(problems: list[Problem]) -> None:
    _err("\n".join(p.format() for p in problems) or "error: generation failed")


def _internal_error(exc: BaseException) -> None:
    """A bug, not an input problem. No message text: it could carry a value we must not show."""
    if os.environ.get("CMP_DEBUG", "").lower() in ("1", "true", "yes"):
        _err(traceback.format_exc())
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
    _err(f"error: internal error ({type(exc).__name__}{where}); please report it "
         "(set CMP_DEBUG=1 in the sidecar for a traceback)")


_TOP_LEVEL_KIND = re.compile(r'(?m)^kind:[ \t]*\S|"kind"[ \t]*:')


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
    file = env.get(SETTINGS_ENV)
    if not file:
        return ""
    if not os.path.isabs(file):
        return (f"{SETTINGS_ENV} must be an absolute path: a relative one would be read from the repository "
                "being rendered, and platform settings never come from a project's repository")
    real, top = os.path.realpath(file), os.path.realpath(root)
    if real == top or real.startswith(top.rstrip(os.sep) + os.sep):
        return f"{SETTINGS_ENV} is inside the repository being rendered; platform settings never come from it"
    return ""


def _has_object(text: str) -> bool:
    """At least one document with a kind: Argo CD reads `---` alone or `null` as zero objects."""
    return bool(text.strip()) and _TOP_LEVEL_KIND.search(text) is not None


def generate(argv: list[str]) -> int:
    if argv:
        _err(f"error: generate takes no arguments (got {' '.join(argv)}); it reads Argo CD's environment")
        return EXIT_USAGE
    previous = {sig: signal.signal(sig, handler)
                for sig, handler in ((signal.SIGTERM, _on_sigterm), (signal.SIGALRM, _on_sigalrm))}
    try:
        return _generate(dict(os.environ))
    finally:  # only matters when called in-process (tests); the CLI exits right after
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _generate(env: dict) -> int:
    try:
        budget = _timeout(env)
        signal.setitimer(signal.ITIMER_REAL, budget)
        try:
            from cmp_plugin.argocd.request import effective_project, resolve

            request = resolve(env)
            problem = settings_file_problem(env, request.root)
            if problem:
                raise Failure(run_problem(problem, "settings"))
            # Messages name the file as the repository does (projects/shop.yaml:3:5: ...), also when
            # Argo CD sent only projects/ (reposerver.plugin.use.manifest.generate.paths).
            os.chdir(request.root)
            from cmp_plugin.pipeline import render_file

            text = render_file(request.file, project=request.project, settings=None, secrets=request.secrets,
                               env=project_env(env, effective_project(request)), display=request.display)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except Failure as failure:
        _print_problems(failure.problems)
        return EXIT_FAILURE
    except _OutOfTime:
        _err(f"error: generation took longer than {budget:g} s ({TIMEOUT_ENV}) and was stopped; "
             "is Vault slow or unreachable? Argo CD would have killed it at its own deadline (60 s by default)")
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - the one place that turns a bug into a clean exit 1
        _internal_error(exc)
        return EXIT_FAILURE
    if not isinstance(text, str) or not _has_object(text):
        _err("error: the renderer produced no manifests; refusing to print empty output "
             "(Argo CD would prune every object of the application)")
        return EXIT_FAILURE
    data = (text if text.endswith("\n") else text + "\n").encode("utf-8")
    try:
        out = sys.stdout.buffer
        out.write(data)  # one write of the whole text, only now that it is complete
        out.flush()
    except (OSError, ValueError) as exc:
        _err(f"error: cannot write the manifests to stdout: {exc}")
        return EXIT_FAILURE
    return 0


def discover(argv: list[str]) -> int:
    if argv:
        _err(f"error: discover takes no arguments (got {' '.join(argv)})")
        return EXIT_USAGE
    from cmp_plugin.argocd.request import has_plugin_block, resolve

    env = dict(os.environ)
    if not has_plugin_block(env):
        return 0  # no plugin block: auto-detection of some other app; never claim it
    try:
        request = resolve(env)
    except Failure as failure:
        _err("discover: no match: " + "; ".join(p.message for p in failure.problems))
        return 0
    except Exception as exc:  # noqa: BLE001 - a non-zero exit is an error in Argo CD, not "no match"
        _internal_error(exc)
        return 0
    sys.stdout.write(request.display + "\n")
    sys.stdout.flush()
    return 0


def parameters(argv: list[str]) -> int:
    if argv:
        _err(f"error: parameters takes no arguments (got {' '.join(argv)})")
        return EXIT_USAGE
    try:
        from cmp_plugin.argocd.request import announcements

        items = announcements(dict(os.environ))
    except Exception as exc:  # noqa: BLE001 - the Parameters tab must always get a JSON array
        _internal_error(exc)
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
    _err(f"error: unknown command {command!r}; expected one of {', '.join(COMMANDS)}")
    return EXIT_USAGE
