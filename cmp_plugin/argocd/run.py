"""One run of a plugin's `generate` under Argo CD's contract, shared by both plugins
(`cmp-render generate` and `cmp-render generic-generate`):

* the manifests are written in one write, only once complete, and only if they hold an object
  (Argo CD reads empty output as "delete everything");
* any failure: every problem on stderr, nothing on stdout, exit 1 (a bug: exit 70);
* an internal budget (`CMP_TIMEOUT_SECONDS`) stops a slow run with a readable message before
  Argo CD's own deadline (60 s by default) kills it without one;
* SIGTERM (that deadline, sent to the whole process group) ends the run at once with exit 143.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from typing import Callable, Mapping

from cmp_plugin.problems import EXIT_INTERNAL, Failure, internal_error, write_problems
from cmp_plugin.settings import debug, knob

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143, what a shell reports for a SIGTERM'd command
TIMEOUT_ENV = "CMP_TIMEOUT_SECONDS"

_TOP_LEVEL_KIND = re.compile(r'(?m)^kind:[ \t]*\S|"kind"[ \t]*:')


class _OutOfTime(BaseException):
    """Raised by SIGALRM; a BaseException so that no library's `except Exception` swallows it."""


def err(text: str) -> None:
    try:
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def on_sigterm(signum, frame) -> None:  # pragma: no cover - exercised in a subprocess by the conformance tests
    # Nothing has been written to stdout yet, or a partial write is under way, which Argo CD
    # discards with the non-zero exit. os._exit skips stdio flushing and atexit; we start no
    # child processes that outlive a run, and the group signal reached any that are running.
    try:
        os.write(2, b"error: terminated by SIGTERM (Argo CD's repo-server deadline passed?); no output\n")
    except OSError:
        pass
    os._exit(EXIT_TERMINATED)


def _on_sigalrm(signum, frame) -> None:
    raise _OutOfTime()


def has_object(text: str) -> bool:
    """At least one document with a kind: Argo CD reads `---` alone or `null` as zero objects."""
    return bool(text.strip()) and _TOP_LEVEL_KIND.search(text) is not None


def run_within_budget(env: Mapping[str, str], produce: Callable[[float], str], slow_hint: str) -> int:
    """Run `produce(deadline)` (a time.monotonic() deadline) and print its text; the exit code."""
    previous = {sig: signal.signal(sig, handler)
                for sig, handler in ((signal.SIGTERM, on_sigterm), (signal.SIGALRM, _on_sigalrm))}
    try:
        return _run(env, produce, slow_hint)
    finally:  # only matters when called in-process (tests); the CLI exits right after
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(env: Mapping[str, str], produce: Callable[[float], str], slow_hint: str) -> int:
    budget = 0.0
    try:
        budget = knob(env, TIMEOUT_ENV)
        signal.setitimer(signal.ITIMER_REAL, budget)
        try:
            text = produce(time.monotonic() + budget)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except Failure as failure:
        write_problems(failure.problems)
        return EXIT_FAILURE
    except _OutOfTime:
        err(f"error: generation took longer than {budget:g} s ({TIMEOUT_ENV}) and was stopped; {slow_hint} "
            "Argo CD would have killed it at its own deadline (60 s by default)")
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - the one place that turns a bug into a clean exit
        internal_error(exc, debug())
        return EXIT_INTERNAL
    if not isinstance(text, str) or not has_object(text):
        err("error: the renderer produced no manifests; refusing to print empty output "
            "(Argo CD would prune every object of the application)")
        return EXIT_FAILURE
    try:
        out = sys.stdout.buffer
        out.write((text if text.endswith("\n") else text + "\n").encode("utf-8"))
        out.flush()
    except (OSError, ValueError) as exc:
        err(f"error: cannot write the manifests to stdout ({type(exc).__name__})")
        return EXIT_FAILURE
    return 0
