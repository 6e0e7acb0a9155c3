"""Helm for the generic plugin: the Application's HELM_ARGS and HELM_VALUES, and `helm template`.

HELM_ARGS is split with shlex (POSIX rules) and never given to a shell; only Helm's rendering
flags are accepted (RENDER_FLAGS), so an Application cannot make Helm run a program
(`--post-renderer`), download anything (`--repo`, `--dependency-update`), talk to a cluster
(`--validate`, `--kubeconfig`), write files (`--output-dir`) or change the release name or
namespace, which are Argo CD's. Files it names (`-f`, `--set-file`) must be regular files inside
the repository Argo CD unpacked. HELM_VALUES is a values file's text, applied after the `-f` files.
CRDs (the chart's `crds/`) are rendered unless HELM_ARGS says `--skip-crds`.

`HelmRunner` is what renders: `HelmBinary` runs the pinned `helm` binary of the sidecar image;
the tests render with the same Helm engine through helm-python-sdk behind this interface.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections import namedtuple
from pathlib import Path

from cmp_plugin.problems import Failure, run_problem

# --set and friends, in the order Helm merges them whatever their order on the command line
# (helm.sh/helm/v4 pkg/cli/values, Options.MergeValues): after the -f files.
SET_FLAGS = ("--set-json", "--set", "--set-string", "--set-file", "--set-literal")
SWITCHES = ("--include-crds", "--skip-crds", "--skip-tests", "--no-hooks")
VALUED = ("--kube-version", "--api-versions")
RENDER_FLAGS = ("-f/--values",) + SET_FLAGS + SWITCHES + VALUED + ("-a",)
MAX_VALUES_BYTES = 1024 * 1024

# What `helm template` is asked to do. value_files: paths (HELM_VALUES last); sets: (flag, text)
# in command-line order; switches: flags without a value; options: (flag, value).
HelmRequest = namedtuple("HelmRequest", "chart release namespace value_files sets switches options")


def _problem(message: str) -> Failure:
    return Failure(run_problem(message, "helm"))


def parse_helm_args(text: str) -> tuple[list[str], list[tuple[str, str]], list[str], list[tuple[str, str]]]:
    """(value files, sets, switches, options) from HELM_ARGS; Failure for anything else."""
    try:
        words = shlex.split(text, comments=False, posix=True)
    except ValueError as exc:
        raise _problem(f"HELM_ARGS cannot be split into words: {exc}") from None
    files: list[str] = []
    sets: list[tuple[str, str]] = []
    switches: list[str] = []
    options: list[tuple[str, str]] = []
    allowed = "HELM_ARGS takes only Helm's rendering flags: " + ", ".join(RENDER_FLAGS)
    i = 0
    while i < len(words):
        word = words[i]
        flag, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if not flag.startswith("--") and flag.startswith("-f") and len(flag) > 2:
            flag, eq, value = "-f", "=", flag[3:] if flag[2] == "=" else flag[2:]  # -fvalues.yaml, -f=values.yaml
        if flag == "-a":
            flag = "--api-versions"
        if flag in SWITCHES:
            if eq:
                raise _problem(f"HELM_ARGS: {flag} takes no value")
            switches.append(flag)
            i += 1
            continue
        if flag not in ("-f", "--values") + SET_FLAGS + VALUED:
            raise _problem(f"HELM_ARGS: {word!r} is not accepted; {allowed}")
        if not eq:
            if i + 1 >= len(words):
                raise _problem(f"HELM_ARGS: {flag} needs a value")
            value = words[i + 1]
            i += 2
        else:
            i += 1
        if flag in ("-f", "--values"):
            files += [v for v in value.split(",") if v]  # a string slice in Helm: commas separate files
        elif flag in SET_FLAGS:
            sets.append((flag, value))
        else:
            options.append((flag, value))
    return files, sets, switches, options


def confine(name: str, cwd: Path, root: Path, what: str) -> str:
    """`name` (relative to the chart) as an absolute path, if it is a regular file in the repository."""
    if not name or "\x00" in name or name == "-" or "://" in name:
        raise _problem(f"{what}: {name!r} must be a file in the repository (not stdin or a URL)")
    if os.path.isabs(name) or name.startswith("~"):
        raise _problem(f"{what}: {name!r} must be a path relative to the application's directory")
    path = Path(os.path.normpath(cwd / name))
    try:
        path.relative_to(root)
        real = path.resolve()
        real.relative_to(root)
    except ValueError:
        raise _problem(f"{what}: {name!r} points outside the repository") from None
    if not real.is_file():
        raise _problem(f"{what}: {name!r} is not a regular file in the repository")
    return str(real)


def build_request(chart: Path, root: Path, release: str, namespace: str, helm_args: str, helm_values: str,
                  workdir: Path) -> HelmRequest:
    """The HelmRequest of one run; HELM_VALUES is written to a private file in `workdir`."""
    files, sets, switches, options = parse_helm_args(helm_args) if helm_args.strip() else ([], [], [], [])
    # CRDs are part of the output unless --skip-crds, as with Argo CD's own Helm support and AVP's examples
    switches = [f for f in dict.fromkeys(switches) if f != "--include-crds"]
    if "--skip-crds" not in switches:
        switches.insert(0, "--include-crds")
    value_files = [confine(f, chart, root, "HELM_ARGS -f") for f in files]
    checked_sets = []
    for flag, expr in sets:
        if flag == "--set-file":  # KEY=PATH[,KEY=PATH]: every file must be in the repository
            pairs = []
            for pair in expr.split(","):
                key, sep, name = pair.partition("=")
                if not sep:
                    raise _problem(f"HELM_ARGS: --set-file {pair!r} is not KEY=PATH")
                pairs.append(f"{key}={confine(name, chart, root, 'HELM_ARGS --set-file')}")
            expr = ",".join(pairs)
        checked_sets.append((flag, expr))
    if helm_values.strip():
        data = helm_values.encode()
        if len(data) > MAX_VALUES_BYTES:
            raise _problem(f"HELM_VALUES is larger than {MAX_VALUES_BYTES} bytes")
        fd, name = tempfile.mkstemp(prefix="helm-values-", suffix=".yaml", dir=workdir)  # mode 0600
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        value_files.append(name)
    return HelmRequest(str(chart), release, namespace, value_files, checked_sets, switches, options)


class HelmRunner:
    """Renders a HelmRequest to `helm template`'s output text; raises Failure."""

    def template(self, request: HelmRequest, timeout: float) -> str:
        raise NotImplementedError


class HelmBinary(HelmRunner):
    """The `helm` binary (pinned in the sidecar image), run without a shell, with its own
    cache and config directories and none of the sidecar's credentials in its environment."""

    def __init__(self, executable: str = "helm"):
        self.executable = executable

    def argv(self, request: HelmRequest) -> list[str]:
        argv = [self.executable, "template", request.release, request.chart]
        if request.namespace:
            argv += ["--namespace", request.namespace]
        for path in request.value_files:
            argv += ["--values", path]
        for flag, expr in request.sets:
            argv += [flag, expr]
        argv += list(request.switches)
        for flag, value in request.options:
            argv += [flag, value]
        return argv

    def environment(self, home: str) -> dict:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": home,
                "HELM_CACHE_HOME": os.path.join(home, "cache"), "HELM_CONFIG_HOME": os.path.join(home, "config"),
                "HELM_DATA_HOME": os.path.join(home, "data"), "KUBECONFIG": os.devnull}

    def template(self, request: HelmRequest, timeout: float) -> str:
        with tempfile.TemporaryDirectory(prefix="helm-home-") as home:
            try:
                done = subprocess.run(self.argv(request), stdin=subprocess.DEVNULL, capture_output=True,
                                      env=self.environment(home), cwd=request.chart, timeout=timeout)
            except FileNotFoundError:
                raise _problem(f"the helm binary ({self.executable}) is not installed in this sidecar") from None
            except subprocess.TimeoutExpired:
                raise _problem(f"helm template took longer than {timeout:g} s") from None
        if done.returncode != 0:
            lines = done.stderr.decode("utf-8", "replace").strip().splitlines()[-20:] or ["(no message)"]
            raise Failure([run_problem(f"helm template failed: {line}", "helm") for line in lines])
        return done.stdout.decode("utf-8", "replace")
