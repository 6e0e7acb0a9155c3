"""Run the plugin the way Argo CD's argocd-cmp-server does (../shared/reference/argocd-cmp.md).

What is reproduced, and where in Argo CD it comes from:

* plugin lookup by `spec.source.plugin.name` == `<metadata.name>-<spec.version>` (or the bare name
  without a version), among the plugin.yaml files this repo ships (one sidecar each: cmp-plugin,
  seed-compat, generic);
* discovery when the plugin has a `discover` rule (fileName glob, find.glob, find.command), then
  `init`, then `generate`: argv exec'd directly (no shell), the executable looked up on the
  sidecar's PATH, stdin /dev/null, its own process group;
* the environment: the sidecar's own env first, then the request's `ARGOCD_APP_*`, `KUBE_*`,
  and, only with a plugin block, `ARGOCD_ENV_<name>` (values expanded with Go's os.Expand against
  the ARGOCD_APP_* vars: unknown names become empty, `$$` gives `$`), `ARGOCD_APP_PARAMETERS`
  (JSON, `null` without parameters) and `PARAM_*`; on a duplicate name the later one wins;
* the working directory: a fresh copy of the whole repository (files 0644, dirs 0755) under
  `<tmp>/_cmp_server/<random>/`, cwd = that copy joined with `spec.source.path`;
* the deadline: SIGTERM to the process group, SIGKILL 5 s later;
* stdout parsing: buffered whole, one trailing newline trimmed, a JSON stream when the first
  non-space character is `{`, else YAML split on `---` lines; empty and null documents skipped;
  every document a mapping with `kind`; objects with an `items` list flattened.

The `cmp-render` executable is a small launcher written into a temporary bin directory on the
sidecar PATH: it runs the `[project.scripts]` entry point from pyproject.toml with this checkout
on sys.path, as `pip install` would.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import re
import secrets as _random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import yaml

REPO = Path(__file__).resolve().parents[2]
GITOPS = Path(__file__).resolve().parent / "gitops"
SHARED = REPO.parent / "shared"
SCHEMAS = SHARED / "schemas"
PLUGIN_FILES = (REPO / "plugin.yaml", REPO / "manifests" / "seed-compat" / "plugin.yaml",
                REPO / "manifests" / "generic" / "plugin.yaml")
KILL_GRACE = 5.0  # argocd-cmp-server: SIGTERM, then SIGKILL 5 s later

KUBE_VERSION = "1.33.1"
KUBE_API_VERSIONS = ",".join(sorted([
    "v1", "v1/ConfigMap", "v1/Namespace", "v1/Secret", "v1/Service", "v1/ServiceAccount",
    "apps/v1", "apps/v1/Deployment", "apps/v1/StatefulSet",
    "rbac.authorization.k8s.io/v1", "rbac.authorization.k8s.io/v1/Role", "rbac.authorization.k8s.io/v1/RoleBinding",
    "argoproj.io/v1alpha1", "argoproj.io/v1alpha1/EventBus", "argoproj.io/v1alpha1/EventSource",
    "argoproj.io/v1alpha1/Sensor", "argoproj.io/v1alpha1/WorkflowTemplate",
    "traefik.io/v1alpha1", "traefik.io/v1alpha1/IngressRoute", "traefik.io/v1alpha1/Middleware",
]))


# --------------------------------------------------------------------------- plugin configs

@dataclass
class Plugin:
    file: Path
    config: dict

    @property
    def name(self) -> str:
        """The socket basename, which `spec.source.plugin.name` must equal (C `Address()`)."""
        name = self.config["metadata"]["name"]
        version = (self.config.get("spec") or {}).get("version")
        return f"{name}-{version}" if version else name

    @property
    def spec(self) -> dict:
        return self.config.get("spec") or {}


def load_plugin(path: Path) -> Plugin:
    """Parse a plugin.yaml with argocd-cmp-server's checks (C `ReadPluginConfig`/`ValidatePluginConfig`)."""
    config = yaml.safe_load(path.read_text())
    if not isinstance(config, dict) or config.get("kind") != "ConfigManagementPlugin":
        raise ValueError(f"{path}: kind must be ConfigManagementPlugin")
    if not (config.get("metadata") or {}).get("name"):
        raise ValueError(f"{path}: metadata.name is required")
    if not (((config.get("spec") or {}).get("generate") or {}).get("command")):
        raise ValueError(f"{path}: spec.generate.command is required")
    return Plugin(path, config)


def plugins() -> dict[str, Plugin]:
    out: dict[str, Plugin] = {}
    for path in PLUGIN_FILES:
        plugin = load_plugin(path)
        assert plugin.name not in out, f"two plugin.yaml files serve {plugin.name}"
        out[plugin.name] = plugin
    return out


# --------------------------------------------------------------------------- launcher on PATH

def make_launcher(bin_dir: Path) -> Path:
    """Write `cmp-render` (the console script pyproject.toml declares) into bin_dir."""
    text = (REPO / "pyproject.toml").read_text()
    match = re.search(r'^cmp-render\s*=\s*"([\w.]+):(\w+)"', text, re.M)
    assert match, "pyproject.toml declares no cmp-render script"
    module, func = match.groups()
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "cmp-render"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        f"from {module} import {func}\n"
        f"sys.exit({func}())\n"
    )
    script.chmod(0o755)
    return script


# --------------------------------------------------------------------------- Go os.Expand

def _special(c: str) -> bool:
    return c in "*#$@!?-0123456789"


def _shell_name(s: str) -> tuple[str, int]:
    if s[0] == "{":
        if len(s) > 2 and _special(s[1]) and s[2] == "}":
            return s[1:2], 3
        for i in range(1, len(s)):
            if s[i] == "}":
                if i == 1:
                    return "", 2
                return s[1:i], i + 1
        return "", 1
    if _special(s[0]):
        return s[0:1], 1
    i = 0
    while i < len(s) and (s[i] == "_" or s[i].isascii() and s[i].isalnum()):
        i += 1
    return s[:i], i


def go_expand(s: str, mapping: Callable[[str], str]) -> str:
    """Go's os.Expand, byte for byte on ASCII input."""
    buf: list[str] | None = None
    i = 0
    j = 0
    while j < len(s):
        if s[j] == "$" and j + 1 < len(s):
            if buf is None:
                buf = []
            buf.append(s[i:j])
            name, w = _shell_name(s[j + 1:])
            if name == "" and w > 0:
                pass  # invalid syntax: eaten
            elif name == "":
                buf.append(s[j])
            else:
                buf.append(mapping(name))
            j += w
            i = j + 1
        j += 1
    if buf is None:
        return s
    return "".join(buf) + s[i:]


def argocd_envsubst(value: str, app_env: dict[str, str]) -> str:
    """T `Env.Envsubst`: `$$` -> `$`, known ARGOCD_APP_* vars replaced, unknown names empty."""
    return go_expand(value, lambda name: "$" if name == "$" else app_env.get(name, ""))


# --------------------------------------------------------------------------- the request env

def escape_param(name: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", name.upper())


def request_env(app: dict, *, revision: str = "0123456789abcdef0123456789abcdef01234567",
                control_plane_namespace: str = "argocd", kube_version: str = KUBE_VERSION,
                api_versions: str = KUBE_API_VERSIONS) -> list[tuple[str, str]]:
    """The variables repo-server adds to a generate request (R `newEnv`, `getPluginEnvs`), in order."""
    meta = app.get("metadata") or {}
    spec = app["spec"]
    source = spec["source"]
    name = meta["name"]
    app_ns = meta.get("namespace") or control_plane_namespace
    instance = name if app_ns == control_plane_namespace else f"{app_ns}_{name}"
    base = [
        ("ARGOCD_APP_NAME", instance),
        ("ARGOCD_APP_NAMESPACE", (spec.get("destination") or {}).get("namespace") or ""),
        ("ARGOCD_APP_PROJECT_NAME", spec.get("project") or ""),
        ("ARGOCD_APP_REVISION", revision),
        ("ARGOCD_APP_REVISION_SHORT", revision[:7]),
        ("ARGOCD_APP_REVISION_SHORT_8", revision[:8]),
        ("ARGOCD_APP_SOURCE_REPO_URL", source.get("repoURL") or ""),
        ("ARGOCD_APP_SOURCE_PATH", source.get("path") or ""),
        ("ARGOCD_APP_SOURCE_TARGET_REVISION", source.get("targetRevision") or ""),
        ("KUBE_VERSION", kube_version),
        ("KUBE_API_VERSIONS", api_versions),
    ]
    out = list(base)
    plugin = source.get("plugin")
    if plugin is not None:
        app_env = dict(base)
        for entry in plugin.get("env") or []:
            out.append((f"ARGOCD_ENV_{entry['name']}", argocd_envsubst(entry.get("value") or "", app_env)))
        params = plugin.get("parameters")
        out.append(("ARGOCD_APP_PARAMETERS", json.dumps(params) if params else "null"))
        for p in params or []:
            e = escape_param(p["name"])
            if "string" in p:
                out.append((f"PARAM_{e}", p["string"]))
            for i, v in enumerate(p.get("array") or []):
                out.append((f"PARAM_{e}_{i}", v))
            for k, v in (p.get("map") or {}).items():
                out.append((f"PARAM_{e}_{escape_param(k)}", v))
    return out


def merge_env(sidecar: dict[str, str], request: Iterable[tuple[str, str]]) -> dict[str, str]:
    """os.Environ() of the sidecar first, request vars appended; Go's exec keeps the last duplicate."""
    env = dict(sidecar)
    for key, value in request:
        env.pop(key, None)
        env[key] = value
    return env


# --------------------------------------------------------------------------- parsing stdout

class OutputError(Exception):
    pass


def parse_manifests(stdout: bytes) -> list[dict]:
    """Argo CD's reading of a plugin's stdout (P trims one newline, then kube.SplitYAML)."""
    text = stdout.decode("utf-8")
    if text.endswith("\n"):
        text = text[:-1]
    docs: list = []
    if text.lstrip().startswith("{"):
        decoder = json.JSONDecoder()
        pos = 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            try:
                value, pos = decoder.raw_decode(text, pos)
            except ValueError as exc:
                raise OutputError(f"invalid JSON stream: {exc}") from None
            docs.append(value)
    else:
        chunks: list[list[str]] = [[]]
        for line in text.split("\n"):
            if line.startswith("---"):
                rest = line[3:].strip()
                if rest and not rest.startswith("#"):
                    raise OutputError(f"text after a document separator: {line!r}")
                chunks.append([])
            else:
                chunks[-1].append(line)
        for chunk in chunks:
            try:
                docs.append(yaml.safe_load("\n".join(chunk)))
            except yaml.YAMLError as exc:
                raise OutputError(f"invalid YAML document: {exc}") from None
    objects: list[dict] = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise OutputError(f"a document is a {type(doc).__name__}, not a mapping")
        if not doc.get("kind"):
            raise OutputError("a document has no kind")
        if isinstance(doc.get("items"), list):
            for item in doc["items"]:
                if not isinstance(item, dict) or not item.get("kind"):
                    raise OutputError("an item of a list has no kind")
                objects.append(item)
        else:
            objects.append(doc)
    return objects


# --------------------------------------------------------------------------- running

@dataclass
class Result:
    argv: list[str]
    returncode: int | None
    stdout: bytes
    stderr: str
    pgid: int | None = None
    objects: list[dict] | None = None
    error: str | None = None  # the error Argo CD would report (non-zero exit, bad output, no plugin)
    cwd: Path | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Harness:
    tmp: Path
    sidecar_env: dict[str, str] = field(default_factory=dict)
    repo: Path = GITOPS
    deadline: float = 60.0

    def __post_init__(self) -> None:
        self.bin = self.tmp / "sidecar-bin"
        make_launcher(self.bin)
        self.workdir = self.tmp / "_cmp_server"  # $TMPDIR/_cmp_server, like argocd-cmp-server
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o700)
        self.plugins = plugins()

    def base_sidecar_env(self) -> dict[str, str]:
        """The sidecar container's own environment (what the Dockerfile and pod spec give it)."""
        home = self.tmp / "home"
        home.mkdir(exist_ok=True)
        env = {
            "PATH": f"{self.bin}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "TMPDIR": str(self.tmp),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "LANG": "C.UTF-8",
        }
        env.update(self.sidecar_env)
        return env

    # -- the repository copy

    def unpack(self, mutate: Callable[[Path], None] | None = None) -> Path:
        """A fresh copy of the repository, as one request gets it (files 0644, dirs 0755)."""
        root = self.workdir / _random.token_hex(8)
        shutil.copytree(self.repo, root, symlinks=True)
        for dirpath, dirnames, filenames in os.walk(root):
            os.chmod(dirpath, 0o755)
            for f in filenames:
                p = os.path.join(dirpath, f)
                if not os.path.islink(p):
                    os.chmod(p, 0o644)
        if mutate:
            mutate(root)
        return root

    # -- one command

    def exec(self, argv: list[str], cwd: Path, env: dict[str, str], *,
             on_start: Callable[[subprocess.Popen], None] | None = None,
             deadline: float | None = None) -> Result:
        exe = shutil.which(argv[0], path=env.get("PATH", ""))
        if exe is None:
            return Result(argv, None, b"", "", error=f"exec: {argv[0]!r}: executable file not found in $PATH")
        proc = subprocess.Popen([exe, *argv[1:]], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        pgid = proc.pid
        if on_start:
            on_start(proc)
        try:
            out, err = proc.communicate(timeout=deadline if deadline is not None else self.deadline)
        except subprocess.TimeoutExpired:
            _killpg(pgid, signal.SIGTERM)
            try:
                out, err = proc.communicate(timeout=KILL_GRACE)
            except subprocess.TimeoutExpired:
                _killpg(pgid, signal.SIGKILL)
                out, err = proc.communicate()
        result = Result(argv, proc.returncode, out, err.decode("utf-8", "replace"), pgid=pgid, cwd=cwd)
        if proc.returncode != 0:
            status = (f"signal: {signal.Signals(-proc.returncode).name}" if proc.returncode < 0
                      else f"exit status {proc.returncode}")
            result.error = f"`{' '.join(argv)}` failed {status}: {result.stderr.strip()}"
        return result

    # -- discovery (D cmpSupports / P matchRepository)

    def matches(self, plugin: Plugin, cwd: Path, env: dict[str, str]) -> tuple[bool, str | None]:
        discover = plugin.spec.get("discover")
        if not discover:
            return True, None
        if discover.get("fileName"):
            return bool(glob.glob(str(cwd / discover["fileName"]))), None
        find = discover.get("find") or {}
        if find.get("glob"):
            pattern = find["glob"]
            for path in cwd.rglob("*"):
                if fnmatch.fnmatch(path.relative_to(cwd).as_posix(), pattern):
                    return True, None
            return False, None
        if find.get("command"):
            r = self.exec([*find["command"], *(find.get("args") or [])], cwd, env)
            if r.returncode != 0:
                return False, f"error running find command: {r.error}"
            return bool(r.stdout.strip()), None
        return False, None

    # -- a whole generate request

    def run(self, app: dict, *, mutate: Callable[[Path], None] | None = None,
            on_start: Callable[[subprocess.Popen], None] | None = None,
            deadline: float | None = None,
            hand_made: Callable[[list[tuple[str, str]]], list[tuple[str, str]]] | None = None,
            **request_kw) -> Result:
        """One generate request for app. `hand_made` edits the request variables first: a request
        Argo CD itself would not send (e.g. PARAM_* without ARGOCD_APP_PARAMETERS), which a
        hand-made run of `cmp-render generate` can still make."""
        source = app["spec"]["source"]
        name = (source.get("plugin") or {}).get("name")
        plugin = self.plugins.get(name)
        if plugin is None:
            return Result([], None, b"", "", error=f'could not find cmp-server plugin with name "{name}"')
        root = self.unpack(mutate)
        try:
            cwd = root / (source.get("path") or ".")
            request = request_env(app, **request_kw)
            env = merge_env(self.base_sidecar_env(), hand_made(request) if hand_made else request)
            ok, err = self.matches(plugin, cwd, env)
            if err or not ok:
                return Result([], None, b"", "", error=err or f'could not find cmp-server plugin with name "{name}" '
                              "supporting the given repository")
            init = plugin.spec.get("init") or {}
            if init.get("command"):
                r = self.exec([*init["command"], *(init.get("args") or [])], cwd, env, deadline=deadline)
                if r.returncode != 0:
                    return r
            gen = plugin.spec["generate"]
            result = self.exec([*gen["command"], *(gen.get("args") or [])], cwd, env,
                               on_start=on_start, deadline=deadline)
            if result.returncode == 0:
                try:
                    result.objects = parse_manifests(result.stdout)
                except (OutputError, UnicodeDecodeError) as exc:
                    result.error = f"failed to unmarshal manifest: {exc}"
            return result
        finally:
            shutil.rmtree(root, ignore_errors=True)  # deleted after the request, like the CMP server

    def parameters(self, app: dict) -> Result:
        """The Parameters tab's call (R populatePluginAppDetails): reduced env, dynamic command."""
        source = app["spec"]["source"]
        plugin = self.plugins[source["plugin"]["name"]]
        dynamic = (plugin.spec.get("parameters") or {}).get("dynamic") or {}
        root = self.unpack()
        try:
            cwd = root / (source.get("path") or ".")
            full = dict(request_env(app))
            keep = {"ARGOCD_APP_NAME", "ARGOCD_APP_SOURCE_REPO_URL", "ARGOCD_APP_SOURCE_PATH",
                    "ARGOCD_APP_SOURCE_TARGET_REVISION"}
            reduced = [(k, v) for k, v in full.items()
                       if k in keep or k.startswith(("ARGOCD_ENV_", "PARAM_")) or k == "ARGOCD_APP_PARAMETERS"]
            env = merge_env(self.base_sidecar_env(), reduced)
            r = self.exec([*dynamic["command"], *(dynamic.get("args") or [])], cwd, env)
            return r
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def group_alive(pgid: int) -> bool:
    """True while any process of the group still exists (zombies of the reaped leader excluded)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_group_gone(pgid: int, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not group_alive(pgid):
            return True
        time.sleep(0.05)
    return not group_alive(pgid)


# --------------------------------------------------------------------------- ApplicationSets

class TemplateError(Exception):
    pass


_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_FUNCS: dict[str, Callable[..., str]] = {
    "trimSuffix": lambda suffix, s: s[: -len(suffix)] if suffix and s.endswith(suffix) else s,
    "trimPrefix": lambda prefix, s: s[len(prefix):] if prefix and s.startswith(prefix) else s,
    "lower": lambda s: s.lower(),
}


def _lookup(data: dict, dotted: str) -> object:
    value: object = data
    for part in dotted.strip(".").split("."):
        if not isinstance(value, dict) or part not in value:
            raise TemplateError(f"map has no entry for key {part!r} (missingkey=error)")
        value = value[part]
    return value


def _eval(expr: str, data: dict) -> str:
    stages = [s.strip() for s in expr.split("|")]
    head = stages[0]
    if not head.startswith("."):
        raise TemplateError(f"unsupported template expression {expr!r}")
    value = _lookup(data, head)
    for stage in stages[1:]:
        words = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', stage)
        func, args = words[0], [json.loads(w) for w in words[1:]]
        if func not in _FUNCS:
            raise TemplateError(f"unsupported template function {func!r} (extend the harness)")
        value = _FUNCS[func](*args, value)
    if isinstance(value, (dict, list)):
        raise TemplateError(f"{expr!r} is not a scalar")
    return "" if value is None else str(value)


def render_template(node: object, data: dict) -> object:
    """A goTemplate ApplicationSet template with the functions the shipped ApplicationSets use."""
    if isinstance(node, dict):
        return {render_template(k, data): render_template(v, data) for k, v in node.items()}
    if isinstance(node, list):
        return [render_template(v, data) for v in node]
    if isinstance(node, str):
        return _ACTION.sub(lambda m: _eval(m.group(1), data), node)
    return node


def normalize(name: str) -> str:
    """utils.SanitizeName as used for `.path.*Normalized`: lowercase, [^-a-z0-9.] -> '-', trimmed."""
    name = re.sub(r"[^-a-z0-9.]", "-", name.lower())[:253]
    return name.strip("-.")


def git_file_params(repo: Path, pattern: str) -> list[dict]:
    """The git files generator's parameters for every file matching pattern (greedy glob)."""
    out = []
    for path in sorted(repo.glob(pattern)):
        rel = path.relative_to(repo)
        content = yaml.safe_load(path.read_text()) or {}
        items = content if isinstance(content, list) else [content]
        for item in items:
            params = dict(item) if isinstance(item, dict) else {}
            directory = rel.parent.as_posix()
            params["path"] = {
                "path": directory,
                "basename": rel.parent.name or ".",
                "filename": rel.name,
                "basenameNormalized": normalize(rel.parent.name),
                "filenameNormalized": normalize(rel.name),
                "segments": list(rel.parent.parts),
            }
            out.append(params)
    return out


def generate_applications(appset: dict, repo: Path = GITOPS) -> list[dict]:
    """The Applications an ApplicationSet with git file generators creates for repo."""
    spec = appset["spec"]
    assert spec.get("goTemplate") is True, "the harness renders goTemplate ApplicationSets only"
    apps = []
    for gen in spec["generators"]:
        files = gen["git"]["files"]
        excluded = {p for f in files if f.get("exclude") for p in repo.glob(f["path"])}
        included = [p for f in files if not f.get("exclude") for p in sorted(repo.glob(f["path"]))]
        for path in included:
            if path in excluded:
                continue
            for params in git_file_params(repo, path.relative_to(repo).as_posix()):
                apps.append(render_template(spec["template"], params))
    names = [a["metadata"]["name"] for a in apps]
    assert len(names) == len(set(names)), f"duplicate Application names: {names}"
    return apps
