"""What Argo CD asks for: the project file, the project name and the secrets mode of one run.

Argo CD's argocd-cmp-server runs our commands with the sidecar's environment plus the request's
variables (docs/argocd.md, "The env/parameter contract"):

* `ARGOCD_APP_NAME` (maybe `<appNamespace>_<name>`), `ARGOCD_APP_NAMESPACE` (maybe empty), ...
* `ARGOCD_APP_PARAMETERS`: JSON list of the parameters the Application sets (unset, `null` or `[]`
  when none), and the same values again as `PARAM_<NAME>`;
* `ARGOCD_ENV_<name>` per `spec.source.plugin.env` entry.

Inputs, each from a parameter or the same-named env entry (never both with different values):

* `file`: the project file, relative to the app directory (`spec.source.path`);
  default `<app name>.yaml` (or `.yml`) in the app directory;
* `project`: the project name; default: the file's stem (the renderer decides);
* `secrets`: `resolve` (default: placeholders are read from Vault) or `keep`;
* `HELM_ARGS` (env only; the seed's ApplicationSet): `-f FILE --set project=NAME`, split like a
  shell would but never run by one. Nothing else Helm knows is accepted.

The file must be a regular `.yaml`/`.yml` file inside the repository copy that the CMP server
unpacked (see `repo_root`), after following symlinks. With the repo-server setting
`reposerver.plugin.use.manifest.generate.paths`, that copy is only a part of the repository (see
`repo_prefix`); messages still name files as the repository does (`projects/shop.yaml`).

Two bindings, switched on by the sidecar's own env (an Application cannot: its env arrives as
ARGOCD_ENV_*, and unknown names are refused), tie the project to who asks for it: see
`binding_problems`.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
from pathlib import Path
from typing import Mapping, NamedTuple

from cmp_plugin import naming
from cmp_plugin.problems import Failure, run_problem
from cmp_plugin.settings import knob

PARAMETERS = ("file", "project", "secrets")
SECRETS_MODES = ("resolve", "keep")
ENV_PREFIX = "ARGOCD_ENV_"
SEED_ENV = "HELM_ARGS"
YAML_SUFFIXES = (".yaml", ".yml")
# argocd-cmp-server unpacks every request into $TMPDIR/_cmp_server/<random>/ (or $ARGOCD_CMP_WORKDIR/...).
CMP_WORKDIR_NAME = "_cmp_server"
BIND_ENV = "CMP_BIND_APP_PROJECT"
BIND_NAME_ENV = "CMP_BIND_APP_NAME"


class Request(NamedTuple):
    root: Path  # the repository copy; nothing outside it is read
    file: str  # project file, relative to root, POSIX separators
    project: str | None  # None: the renderer takes the file's stem
    secrets: str  # "resolve" or "keep"
    source: str  # how the file was named, for messages
    prefix: str = ""  # where root sits in the repository ("" = the whole repository was sent)

    @property
    def path(self) -> Path:
        return self.root / self.file

    @property
    def display(self) -> str:
        """The file as the repository names it (projects/shop.yaml), for messages."""
        return _in_repository(self.prefix, self.file)


def _problem(message: str) -> Failure:
    return Failure(run_problem(message, "argocd"))


def app_name(env: Mapping[str, str]) -> str:
    """The Application's own name: ARGOCD_APP_NAME without the `<appNamespace>_` prefix.

    Names and namespaces are DNS names (no `_`), so the last `_` separates them.
    """
    return (env.get("ARGOCD_APP_NAME") or "").rsplit("_", 1)[-1].strip()


def has_plugin_block(env: Mapping[str, str]) -> bool:
    """True when Argo CD sent the variables that exist only if the Application has a plugin block."""
    return "ARGOCD_APP_PARAMETERS" in env or any(k.startswith(ENV_PREFIX) for k in env)


def _e(name: str) -> str:
    """Argo CD's PARAM_ name escaping: uppercase, then every char outside [A-Z0-9_] becomes `_`."""
    return re.sub(r"[^A-Z0-9_]", "_", name.upper())


def read_parameters(env: Mapping[str, str]) -> dict[str, str]:
    """String parameters set in the Application, from ARGOCD_APP_PARAMETERS (or PARAM_* without it)."""
    raw = env.get("ARGOCD_APP_PARAMETERS")
    values: dict[str, str] = {}
    if raw is None:
        # Argo CD always sends ARGOCD_APP_PARAMETERS with PARAM_*; accept PARAM_* alone for hand-made runs.
        known = {f"PARAM_{_e(n)}": n for n in PARAMETERS}
        for key, value in env.items():
            if key.startswith("PARAM_"):
                if key not in known:
                    raise _problem(f"unknown parameter variable {key}; this plugin takes only "
                                   + ", ".join(f"PARAM_{_e(n)}" for n in PARAMETERS))
                if value.strip():
                    values[known[key]] = value.strip()
        return values
    raw = raw.strip()
    if raw in ("", "null"):
        return values
    try:
        items = json.loads(raw)
    except ValueError as exc:
        raise _problem(f"ARGOCD_APP_PARAMETERS is not valid JSON ({exc.msg} at column {exc.colno})") from None
    if items is None:
        return values
    if not isinstance(items, list):
        raise _problem("ARGOCD_APP_PARAMETERS must be a JSON list of parameters")
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _problem("ARGOCD_APP_PARAMETERS: every parameter must be an object with a name")
        name = item["name"]
        if name not in PARAMETERS:
            raise _problem(f"unknown plugin parameter {name!r}; this plugin takes only "
                           + ", ".join(repr(p) for p in PARAMETERS))
        if "array" in item or "map" in item:
            raise _problem(f"plugin parameter {name!r} must be a string (string: ...), not an array or a map")
        value = item.get("string")
        if value is not None and not isinstance(value, str):
            raise _problem(f"plugin parameter {name!r} must be a string")
        if value is not None and value.strip():
            if name in values and values[name] != value.strip():
                raise _problem(f"plugin parameter {name!r} is set twice with different values")
            values[name] = value.strip()
    return values


def vault_env_names() -> frozenset[str]:
    """The argocd-vault-plugin variables an Application may also send as ARGOCD_ENV_<NAME>;
    cmp_plugin.secrets decides what each may do (all but AVP_KV_VERSION are sidecar-only)."""
    try:
        from cmp_plugin.secrets.config import APP_FIRST, SIDECAR_ONLY
    except ImportError:  # pragma: no cover - the secrets package is part of the plugin
        return frozenset()
    return frozenset((*APP_FIRST, *SIDECAR_ONLY))


def read_env(env: Mapping[str, str]) -> dict[str, str]:
    """`spec.source.plugin.env` entries (ARGOCD_ENV_<name>), names matched case-insensitively.

    Missing and empty are the same. An unknown name is refused, so that a typo cannot silently
    fall back to a default. Vault variables (AVP_*, VAULT_*) are left to cmp_plugin.secrets.
    """
    allowed = {n.upper() for n in PARAMETERS} | {SEED_ENV}
    vault = vault_env_names()
    values: dict[str, str] = {}
    for key in sorted(env):
        if not key.startswith(ENV_PREFIX):
            continue
        if key[len(ENV_PREFIX):] in vault:
            continue
        name = key[len(ENV_PREFIX):].upper()
        if name not in allowed:
            raise _problem(f"unknown plugin env {key[len(ENV_PREFIX):]!r} (arrives as {key}); this plugin takes "
                           + ", ".join(sorted(allowed)) + " and the argocd-vault-plugin variables (AVP_*, VAULT_*)")
        value = env[key].strip()
        if not value:
            continue
        if name in values and values[name] != value:
            raise _problem(f"plugin env {name} is given twice with different values (names differ only in case)")
        values[name] = value
    return values


def parse_helm_args(text: str) -> tuple[str, str | None]:
    """The seed's HELM_ARGS: exactly one `-f/--values FILE` and at most one `--set project=NAME`.

    Split with shlex (POSIX rules) and never given to a shell or to Helm.
    """
    try:
        words = shlex.split(text, comments=False, posix=True)
    except ValueError as exc:
        raise _problem(f"HELM_ARGS cannot be split into words: {exc}") from None
    files: list[str] = []
    projects: list[str] = []
    usage = "HELM_ARGS takes only '-f FILE' (or '--values FILE') and '--set project=NAME'"
    i = 0
    while i < len(words):
        word = words[i]
        value: str | None = None
        if word in ("-f", "--values", "--set"):
            if i + 1 >= len(words):
                raise _problem(f"HELM_ARGS: {word} needs a value; {usage}")
            value = words[i + 1]
            i += 2
        elif word.startswith("--values=") or word.startswith("--set="):
            word, value = word.split("=", 1)
            i += 1
        else:
            raise _problem(f"HELM_ARGS: unsupported argument {word!r}; {usage}")
        if word in ("-f", "--values"):
            files.append(value)
        else:
            key, sep, name = value.partition("=")
            if key != "project" or not sep:
                raise _problem(f"HELM_ARGS: unsupported --set {value!r}; {usage}")
            if "," in name or not name:
                raise _problem(f"HELM_ARGS: --set project= needs one project name, got {name!r}")
            projects.append(name)
    if len(files) != 1:
        raise _problem(f"HELM_ARGS must name exactly one values file, found {len(files)}; {usage}")
    if len(projects) > 1:
        raise _problem("HELM_ARGS: --set project= is given more than once")
    return files[0], (projects[0] if projects else None)


def repo_root(cwd: Path, env: Mapping[str, str]) -> Path:
    """The directory nothing may be read outside of.

    1. In Argo CD: the request directory that argocd-cmp-server created,
       `$TMPDIR/_cmp_server/<random>/`, found as the ancestor whose parent is `_cmp_server`.
    2. Else, when cwd ends with `ARGOCD_APP_SOURCE_PATH`: cwd minus that path.
    3. Else (a hand-made run): the nearest ancestor holding `.git`, else cwd itself.
    """
    cwd = cwd.resolve()
    for candidate in (cwd, *cwd.parents):
        if candidate.parent.name == CMP_WORKDIR_NAME and candidate.parent != candidate:
            return candidate
    source = (env.get("ARGOCD_APP_SOURCE_PATH") or "").replace("\\", "/")
    parts = [p for p in source.split("/") if p not in ("", ".")]
    if parts and ".." not in parts and len(parts) < len(cwd.parts) and list(cwd.parts[-len(parts):]) == parts:
        return cwd.parents[len(parts) - 1]
    for candidate in (cwd, *cwd.parents):
        if (candidate / ".git").exists():
            return candidate
    return cwd


def repo_prefix(root: Path, cwd: Path, env: Mapping[str, str]) -> str:
    """Where `root` sits in the repository: "" when Argo CD sent the whole repository.

    With `reposerver.plugin.use.manifest.generate.paths` on, Argo CD sends only the common root of
    the application's path and the paths of its `argocd.argoproj.io/manifest-generate-paths`
    annotation (argo-cd reposerver/repository/utils.go), and the cwd is the application's path
    inside that: ARGOCD_APP_SOURCE_PATH `projects` with cwd = root means root is `projects/`.
    Only used to word messages; nothing is read through it.
    """
    source = [p for p in (env.get("ARGOCD_APP_SOURCE_PATH") or "").replace("\\", "/").split("/") if p not in ("", ".")]
    try:
        inner = cwd.relative_to(root).parts
    except ValueError:
        return ""
    if ".." in source or len(inner) > len(source) or (inner and tuple(source[len(source) - len(inner):]) != inner):
        return ""
    return "/".join(source[: len(source) - len(inner)])


def _in_repository(prefix: str, relative: str) -> str:
    return posixpath.normpath(posixpath.join(prefix, relative)) if prefix else relative


def _outside(root: Path, cwd: Path, name: str, what: str, prefix: str) -> str:
    if prefix:
        # Inside the repository but outside the part Argo CD sent: say which annotation is missing.
        wanted = posixpath.normpath(posixpath.join(prefix, cwd.relative_to(root).as_posix(), name))
        if wanted != ".." and not wanted.startswith("../"):
            return (f"{what}: {name!r} is {wanted} in the repository, but Argo CD sent only {prefix}/ (the "
                    "repo-server setting reposerver.plugin.use.manifest.generate.paths is on): add "
                    f"/{wanted} to the Application's annotation argocd.argoproj.io/manifest-generate-paths")
    return f"{what}: {name!r} points outside the repository"


def _inside(root: Path, cwd: Path, name: str, what: str, prefix: str = "") -> str:
    """`name` (relative to cwd) as a path relative to root, refusing anything outside root."""
    if not name or "\x00" in name:
        raise _problem(f"{what}: empty file name")
    if name.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", name) or name.startswith("~"):
        raise _problem(f"{what}: {name!r} must be a path relative to the application's directory, not absolute")
    if not name.endswith(YAML_SUFFIXES):
        raise _problem(f"{what}: {name!r} is not a .yaml or .yml file")
    lexical = Path(os.path.normpath(cwd / name))
    try:
        lexical.relative_to(root)
    except ValueError:
        raise _problem(_outside(root, cwd, name, what, prefix)) from None
    if not lexical.exists():
        raise _problem(f"{what}: project file {_in_repository(prefix, lexical.relative_to(root).as_posix())} does not "
                       "exist in the repository (the application's directory is "
                       f"{_in_repository(prefix, cwd.relative_to(root).as_posix())})")
    real = lexical.resolve()
    try:
        relative = real.relative_to(root)
    except ValueError:
        raise _problem(f"{what}: {name!r} is a symlink that points outside the repository") from None
    if not real.is_file():
        raise _problem(f"{what}: {_in_repository(prefix, relative.as_posix())} is not a regular file")
    if not real.name.endswith(YAML_SUFFIXES):
        raise _problem(f"{what}: {name!r} is a symlink to a file that is not .yaml or .yml")
    return lexical.relative_to(root).as_posix()


def _check_project(name: str, what: str) -> str:
    if not naming.is_project_name(name):
        raise _problem(f"{what}: project name {name!r} must be a lowercase RFC 1123 label "
                       "(a-z, 0-9 and '-', starting with a letter, at most 63)")
    return name


def resolve(env: Mapping[str, str], cwd: Path | None = None) -> Request:
    """Work out the run from Argo CD's environment; raises Failure with a message that says what to fix."""
    cwd = (cwd or Path.cwd()).resolve()
    root = repo_root(cwd, env)
    prefix = repo_prefix(root, cwd, env)
    params = read_parameters(env)
    envs = read_env(env)
    given: dict[str, tuple[str, str]] = {}
    for name in PARAMETERS:
        p, e = params.get(name), envs.get(name.upper())
        if p and e and p != e:
            raise _problem(f"{name!r} is set both as a plugin parameter ({p!r}) and as plugin env "
                           f"{ENV_PREFIX}{name.upper()} ({e!r}); set it once")
        if p:
            given[name] = (p, f"parameter {name!r}")
        elif e:
            given[name] = (e, f"{ENV_PREFIX}{name.upper()}")

    secrets, _ = given.get("secrets", ("resolve", "default"))
    if secrets not in SECRETS_MODES:
        raise _problem(f"secrets must be 'resolve' or 'keep', got {secrets!r}")

    project: str | None = None
    if SEED_ENV in envs:
        if "file" in given or "project" in given:
            raise _problem(f"give either {ENV_PREFIX}{SEED_ENV} (the seed's layout) or the 'file'/'project' "
                           "parameters, not both")
        name, project = parse_helm_args(envs[SEED_ENV])
        source = f"{ENV_PREFIX}{SEED_ENV}"
        file = _inside(root, cwd, name, source, prefix)
        if project is not None:
            _check_project(project, source)
    elif "file" in given:
        name, source = given["file"]
        file = _inside(root, cwd, name, source, prefix)
    else:
        app = app_name(env)
        if not app:
            raise _problem("no project file named: set the plugin parameter 'file' (or env FILE), or name the "
                           "Application after the file (ARGOCD_APP_NAME is empty)")
        source = f"the Application name {app!r}"
        found = [f"{app}{s}" for s in YAML_SUFFIXES if (cwd / f"{app}{s}").exists()]
        if len(found) > 1:
            raise _problem(f"both {found[0]} and {found[1]} exist in the application's directory; remove one "
                           "or set the plugin parameter 'file'")
        if not found:
            raise _problem(f"no project file named: {app}.yaml (from {source}) does not exist in "
                           f"{_in_repository(prefix, cwd.relative_to(root).as_posix())}; set the plugin parameter 'file' "
                           "(or env FILE) to the project file relative to spec.source.path")
        file = _inside(root, cwd, found[0], source, prefix)
    if "project" in given:
        value, where = given["project"]
        project = _check_project(value, where)
    request = Request(root=root, file=file, project=project, secrets=secrets, source=source, prefix=prefix)
    problems = binding_problems(request, env)
    if problems:
        raise Failure([run_problem(message, "argocd") for message in problems])
    return request


def effective_project(request: Request) -> str:
    """The project name the renderer will use: the given one, else the file's stem."""
    return request.project or naming.project_name(request.file)


def binding_problems(request: Request, env: Mapping[str, str]) -> list[str]:
    """What the sidecar's bindings refuse (manifests/ turn them on; docs/argocd.md):

    * CMP_BIND_APP_PROJECT=true: project X only for Applications in the Argo CD AppProject X
      whose destination namespace is X (or empty). AppProjects are the platform's
      (manifests/appprojects.yaml) and each allows only its own namespace.
    * CMP_BIND_APP_NAME=true: project X only for the Application named exactly X
      (ARGOCD_APP_NAME; one outside Argo CD's own namespace arrives as `<namespace>_X` and never
      matches) whose destination namespace is exactly X (ARGOCD_APP_NAMESPACE).

    Either way an Application cannot name another project (by parameter, env, HELM_ARGS, path or
    symlink) and have the sidecar log in with that project's Vault role and read its secrets.
    """
    by_project, by_name = knob(env, BIND_ENV), knob(env, BIND_NAME_ENV)
    if not (by_project or by_name):
        return []
    name = effective_project(request)
    problems = []
    app_project = (env.get("ARGOCD_APP_PROJECT_NAME") or "").strip()
    if by_project and app_project != name:
        problems.append(f"project {name!r} may only be rendered by Applications in the Argo CD AppProject "
                        f"{name!r}, not {app_project or '(none)'!r} ({BIND_ENV} is on in this sidecar)")
    app = env.get("ARGOCD_APP_NAME") or ""
    if by_name and app != name:
        where = " (an Application outside Argo CD's own namespace)" if "_" in app else ""
        problems.append(f"project {name!r} may only be rendered by the Argo CD Application named {name!r}, "
                        f"not {app or '(none)'!r}{where} ({BIND_NAME_ENV} is on in this sidecar)")
    namespace = (env.get("ARGOCD_APP_NAMESPACE") or "").strip()
    if namespace != name and (by_name or namespace):
        flag = BIND_NAME_ENV if by_name else BIND_ENV
        problems.append(f"project {name!r} deploys to namespace {name!r}, but the Application's destination "
                        f"namespace is {namespace or '(none)'!r} ({flag} is on in this sidecar)")
    return problems


def announcements(env: Mapping[str, str], cwd: Path | None = None) -> list[dict]:
    """Parameter announcements for the UI's Parameters tab (printed by `cmp-render parameters`).

    Runs with Argo CD's reduced environment (no namespace, maybe no name): never raises.
    """
    file_default = ""
    try:
        cwd = (cwd or Path.cwd()).resolve()
        app = app_name(env)
        for suffix in YAML_SUFFIXES:
            if app and (cwd / f"{app}{suffix}").is_file():
                file_default = f"{app}{suffix}"
                break
    except OSError:
        pass
    file = {
        "name": "file",
        "title": "Project file",
        "tooltip": "Project file relative to the application's path (spec.source.path). "
                   "Default: <application name>.yaml in that directory.",
        "collectionType": "string",
    }
    if file_default:
        file["string"] = file_default
    return [
        file,
        {
            "name": "project",
            "title": "Project name",
            "tooltip": "Project name (namespace and Vault prefix). Default: the project file's name without .yaml.",
            "collectionType": "string",
        },
        {
            "name": "secrets",
            "title": "Vault placeholders",
            "tooltip": "resolve: read <path:...> placeholders from Vault (default); keep: leave them in the output.",
            "collectionType": "string",
            "string": "resolve",
        },
    ]
