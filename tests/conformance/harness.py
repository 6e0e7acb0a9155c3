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
* with `generate_paths` (the repo-server setting `reposerver.plugin.use.manifest.generate.paths`)
  or `tar_exclusions` (`reposerver.plugin.tar.exclusions`): the repository travels the way Argo CD
  streams it. Only the common root of the app's path and the paths of its
  `argocd.argoproj.io/manifest-generate-paths` annotation is archived (R
  `runConfigManagementPluginSidecars`, `reposerver/repository/utils.go`, with
  filepath-securejoin's `SecureJoin`), walked and tarred like `util/io/files/tar.go` (regular
  files, dirs and symlinks; exclusions are Go `filepath.Match` globs on paths relative to that
  root; no regular file is an error), gzipped, and unpacked by its `Untgz` rules (files 0644,
  dirs 0755, symlinks relativized and refused when they leave the request directory); cwd = the
  request directory joined with the app path relative to the root (S `GetCompressedRepoAndMetadata`,
  P `generateManifest`). `Result.streamed` says what was sent;
* Argo CD's refresh rule for the same annotation (`util/app/path/path.go`
  `GetSourceRefreshPaths`, `AppFilesHaveChanged`; R `UpdateRevisionForPaths`; controller
  `evaluateRevisionChanges`): `regenerates` says whether a new commit makes an Application render;
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
import gzip
import io
import json
import os
import posixpath
import re
import secrets as _random
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
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


# PyYAML's safe loader, in C where it is built (the pure-Python one is ten times slower).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
                docs.append(yaml.load("\n".join(chunk), Loader=SAFE_LOADER))
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


# --------------------------------------------------------------------------- Go path functions

def go_clean(path: str) -> str:
    """Go's filepath.Clean (Unix): like normpath, but a leading `//` becomes `/`."""
    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def go_join(*elems: str) -> str:
    """Go's filepath.Join: empty elements are ignored, the result is cleaned, "" if all are empty."""
    parts = [e for e in elems if e]
    return go_clean("/".join(parts)) if parts else ""


def go_dir(path: str) -> str:
    """Go's filepath.Dir."""
    return go_clean(path[: path.rfind("/") + 1]) if "/" in path else "."


class BadPattern(ValueError):
    """Go's filepath.ErrBadPattern."""


def _go_class_char(pattern: str, i: int) -> tuple[str, int]:
    """getEsc of Go's filepath.Match: one character of a class, `\\` escaping the next one."""
    if i >= len(pattern) or pattern[i] in "-]":
        raise BadPattern(pattern)
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise BadPattern(pattern)
    return pattern[i], i + 1


def go_match(pattern: str, name: str) -> bool:
    """Go's filepath.Match (Unix): `*` and `?` never match `/`; `[^...]` negates a class; a
    malformed pattern raises BadPattern."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "\\":
            if i + 1 >= len(pattern):
                raise BadPattern(pattern)
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif c == "[":
            i += 1
            negated = i < len(pattern) and pattern[i] == "^"
            i += negated
            ranges = []
            while True:
                if i < len(pattern) and pattern[i] == "]" and ranges:
                    i += 1
                    break
                lo, i = _go_class_char(pattern, i)
                hi = lo
                if i < len(pattern) and pattern[i] == "-":
                    hi, i = _go_class_char(pattern, i + 1)
                if i >= len(pattern):
                    raise BadPattern(pattern)
                ranges.append("\\U%08x-\\U%08x" % (ord(lo), ord(hi)) if lo <= hi else "(?!)")
            body = "".join(r for r in ranges if r != "(?!)")
            if negated:
                out.append(f"[^{body}]" if body else "(?s:.)")
            else:
                out.append(f"[{body}]" if body else "(?!)")
        else:
            out.append(re.escape(c))
            i += 1
    return re.fullmatch("".join(out), name, re.S) is not None


SYMLINK_LIMIT = 255  # filepath-securejoin consts.MaxSymlinkLimit


def secure_join(root: str, unsafe: str) -> str:
    """filepath-securejoin v0.7.0 SecureJoin: unsafe resolved inside root as if root were `/`,
    symlinks followed (an absolute target restarts at root), `..` never above root, missing
    components kept as they are."""
    current, remaining, links = "", unsafe, 0
    while remaining:
        part, _, remaining = remaining.partition("/")
        next_path = go_join("/", current, part)
        if next_path == "/":
            current = ""
            continue
        full = root + "/" + next_path
        try:
            is_link = stat.S_ISLNK(os.lstat(full).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            is_link = False
        if not is_link:
            current = next_path
            continue
        links += 1
        if links > SYMLINK_LIMIT:
            raise OSError(f"SecureJoin {root}/{unsafe}: too many levels of symbolic links")
        dest = os.readlink(full)
        remaining = dest + "/" + remaining
        if dest.startswith("/"):
            current = ""
    return go_join(root, go_join("/", current))


def relative_path(full: str, base: str) -> str:
    """util/io/files RelativePath: a string-prefix check, then filepath.Rel."""
    full = go_clean(full)
    if not full.startswith(go_clean(base)):
        raise ValueError(f"{full} is not under {base}")
    return posixpath.relpath(full, base)


# --------------------------------------------------------------------------- the manifest-generate-paths annotation

GENERATE_PATHS = "argocd.argoproj.io/manifest-generate-paths"


def annotation(app: dict) -> str:
    return ((app.get("metadata") or {}).get("annotations") or {}).get(GENERATE_PATHS, "")


def annotation_paths(value: str, app_path: str, repo_path: str) -> list[str]:
    """R getPaths: each `;`-separated entry (not trimmed) as an absolute path inside repo_path."""
    paths = []
    for entry in value.split(";"):
        if entry == "":
            continue
        if entry.startswith("/"):
            unsafe = go_clean(entry)
        else:
            try:
                app_rel = relative_path(app_path, repo_path)
            except ValueError:
                continue
            unsafe = go_clean(go_join(app_rel, entry))
        paths.append(secure_join(repo_path, unsafe))
    return paths


def application_root_path(value: str, app_path: str, repo_path: str) -> str:
    """R getApplicationRootPath: what Argo CD archives with generate paths on. The app path is the
    deepest possible root. Go's `disjoint` flag is sticky: once two paths diverged, a later path
    that is a parent of the common part no longer shortens it (reproduced as is)."""
    paths = annotation_paths(value, app_path, repo_path)
    if not paths:
        return repo_path
    common = app_path.split("/")
    disjoint = False
    for path in paths:
        parts = path.split("/")
        shortest = min(len(common), len(parts))
        for i in range(shortest):
            if common[i] != parts[i]:
                common = common[:i]
                disjoint = True
                break
        if not disjoint and shortest < len(common):
            common = common[:shortest]
    return "/" + go_join(*common)


def refresh_paths(app: dict) -> list[str]:
    """util/app/path GetSourceRefreshPaths (no source hydrator): repository-relative paths."""
    paths = []
    source_path = app["spec"]["source"].get("path") or ""
    for item in annotation(app).split(";"):
        item = item.strip()
        if not item:
            continue
        if item.startswith("/"):
            paths.append(item[1:])
        else:
            paths.append(go_clean(go_join(source_path, item)))
    return paths


def _enforce_to_current_root(current_root: str, requested: str) -> bool:
    """util/security EnforceToCurrentRoot: is the *directory* of requested on or under current_root?"""
    current_root = go_clean(current_root)
    directory = go_dir(requested)
    if current_root == "/" or current_root == directory:
        return True
    return (directory.rstrip("/") + "/").startswith(current_root.rstrip("/") + "/")


def app_files_have_changed(paths: list[str], changed_files: list[str]) -> bool:
    """util/app/path AppFilesHaveChanged."""
    if not changed_files or not paths:
        return True

    def absolute(p: str) -> str:
        return p if p.startswith("/") else "/" + p

    for f in map(absolute, changed_files):
        for item in map(absolute, paths):
            if f == item or _enforce_to_current_root(item, f):
                return True
            try:
                if go_match(item, f):
                    return True
            except BadPattern:
                pass
    return False


def regenerates(app: dict, synced: str, revision: str, changed_files: Callable[[str, str], list[str]], *,
                depth: int = 0) -> bool:
    """Does a refresh at `revision` make Argo CD generate the app's manifests (call the plugin)?

    controller evaluateRevisionChanges + R UpdateRevisionForPaths/gitSourceHasChanges for a
    single git source, assuming the manifests of `synced` (the last compared revision) are
    cached: the same revision is a cache hit; without the annotation, or with a shallow clone
    (`depth` > 0), or with nothing compared yet, the new revision is a new cache key and renders;
    otherwise only a changed file (`git diff --name-only synced..revision`) under the app's
    refresh paths renders, and no change moves the cached manifests to the new revision.
    """
    if synced == revision and revision:
        return False
    if not (synced and depth == 0 and annotation(app)):
        return True
    paths = refresh_paths(app)
    if not paths:
        return True
    files = changed_files(synced, revision)
    return bool(files) and app_files_have_changed(paths, files)


# --------------------------------------------------------------------------- streaming the repository

class StreamError(Exception):
    pass


@dataclass
class Streamed:
    """What the repo-server sent for one request."""
    root: str  # the archived directory, relative to the repository ("." for all of it)
    app_rel_path: str  # the cwd inside the request directory
    files: int  # regular files (Argo CD's filesWritten)
    entries: int  # tar entries: files, directories, symlinks
    file_bytes: int  # bytes of the regular files
    tgz_bytes: int  # the gzipped tar (Python's tar and zlib at Go's default level 6: close, not identical)

    @property
    def chunks(self) -> int:
        """gRPC messages of the file (ARGOCD_CMP_CHUNK_SIZE, default 1024 bytes)."""
        return -(-self.tgz_bytes // 1024)


def _go_walk(path: str, visit: Callable[[str, os.stat_result], bool]) -> None:
    """Go's filepath.Walk: lexical order, symlinks not followed; visit returns False for SkipDir."""
    st = os.lstat(path)
    if not visit(path, st) or not stat.S_ISDIR(st.st_mode):
        return
    for name in sorted(os.listdir(path), key=os.fsencode):
        _go_walk(path + "/" + name, visit)


def tgz(src: str, exclusions: Iterable[str] = ()) -> tuple[bytes, int, int, int]:
    """util/io/files Tgz (through tgzstream.CompressFiles): (data, regular files, entries, file bytes)."""
    exclusions = list(exclusions)
    raw = io.BytesIO()
    counts = {"files": 0, "entries": 0, "bytes": 0}
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def visit(path: str, st: os.stat_result) -> bool:
            rel = relative_path(path, src)
            for pattern in exclusions:
                if go_match(pattern, rel):  # a BadPattern fails the request, as in Go
                    return False  # an excluded directory is skipped whole (SkipDir)
            mode = st.st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                return True
            info = tarfile.TarInfo(rel)
            info.mode, info.mtime = stat.S_IMODE(mode), int(st.st_mtime)
            counts["entries"] += 1
            if stat.S_ISDIR(mode):
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif stat.S_ISLNK(mode):
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
                tar.addfile(info)
            else:
                info.size = st.st_size
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
                counts["files"] += 1
                counts["bytes"] += st.st_size
            return True

        _go_walk(src, visit)
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0), counts["files"], counts["entries"], counts["bytes"]


def _inbound(candidate: str, base: str) -> bool:
    """util/io/files Inbound."""
    target = go_clean(candidate) if candidate.startswith("/") else go_join(base, candidate)
    return target.startswith(go_clean(base) + "/")


def untgz(dst: str, data: bytes) -> None:
    """util/io/files Untgz with preserveFileMode false."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar:
            if member.name in (".", "./"):
                continue
            target = go_join(dst, member.name)
            if not _inbound(target, dst):
                raise StreamError(f"illegal filepath in archive: {target}")
            if member.isdir():
                os.makedirs(target, 0o755, exist_ok=True)
            elif member.issym():
                link_target = go_join(go_dir(target), member.linkname)
                try:
                    real = os.path.realpath(link_target, strict=True)
                except FileNotFoundError:
                    real = link_target
                if not _inbound(real, dst):
                    raise StreamError(f"illegal filepath in symlink: {link_target}")
                os.symlink(posixpath.relpath(real, go_dir(target)), target)
            elif member.isreg():
                os.makedirs(go_dir(target), 0o755, exist_ok=True)
                with open(target, "wb") as out:
                    out.write(tar.extractfile(member).read())
                os.chmod(target, 0o644)


def stream_repository(repo_path: str, source_path: str, annotation_value: str, dst: str, *,
                      generate_paths: bool, exclusions: Iterable[str] = ()) -> Streamed:
    """The repo-server's side of one generate request, unpacked into dst (the request directory).
    Returns what was sent; raises StreamError where Argo CD fails the request."""
    repo_path = go_clean(os.path.abspath(repo_path))
    app_path = go_join(repo_path, source_path or ".")
    if not app_path.startswith(repo_path) or not os.path.isdir(app_path):
        raise StreamError(f"{source_path}: app path does not exist")
    root = application_root_path(annotation_value, app_path, repo_path) if generate_paths else repo_path
    data, files, entries, file_bytes = tgz(root, exclusions)
    if files == 0:
        raise StreamError(f"no files to send({root})")
    app_rel = relative_path(app_path, root)
    untgz(dst, data)
    return Streamed(root=posixpath.relpath(root, repo_path), app_rel_path=app_rel, files=files, entries=entries,
                    file_bytes=file_bytes, tgz_bytes=len(data))


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
    streamed: Streamed | None = None  # what the repo-server sent (streaming runs only)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Harness:
    tmp: Path
    sidecar_env: dict[str, str] = field(default_factory=dict)
    repo: Path = GITOPS
    deadline: float = 60.0
    generate_paths: bool = False  # the repo-server's reposerver.plugin.use.manifest.generate.paths
    tar_exclusions: tuple[str, ...] = ()  # the repo-server's reposerver.plugin.tar.exclusions

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

    @property
    def streams(self) -> bool:
        """Runs stream the repository like the repo-server (else: a plain copy, see `unpack`)."""
        return self.generate_paths or bool(self.tar_exclusions)

    def stream(self, app: dict, mutate: Callable[[Path], None] | None = None, *,
               generate_paths: bool | None = None) -> tuple[Path, Path, Streamed]:
        """(request directory, cwd, what was sent) for app: the repo-server's checkout (mutate
        edits it first) archived and unpacked the way Argo CD streams it. Raises StreamError."""
        checkout = self.tmp / "repo-server" / _random.token_hex(8)
        shutil.copytree(self.repo, checkout, symlinks=True)
        request_dir = self.workdir / _random.token_hex(8)
        request_dir.mkdir(mode=0o755)
        try:
            if mutate:
                mutate(checkout)
            streamed = stream_repository(
                str(checkout), app["spec"]["source"].get("path") or "", annotation(app), str(request_dir),
                generate_paths=self.generate_paths if generate_paths is None else generate_paths,
                exclusions=self.tar_exclusions)
        except BaseException:
            shutil.rmtree(request_dir, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(checkout, ignore_errors=True)
        return request_dir, Path(go_join(str(request_dir), streamed.app_rel_path)), streamed

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
        hand-made run of `cmp-render generate` can still make. When the harness `streams`,
        `mutate` edits the repo-server's checkout before it is streamed; otherwise it edits the
        request directory."""
        source = app["spec"]["source"]
        name = (source.get("plugin") or {}).get("name")
        plugin = self.plugins.get(name)
        if plugin is None:
            return Result([], None, b"", "", error=f'could not find cmp-server plugin with name "{name}"')
        streamed = None
        if self.streams:
            try:
                root, cwd, streamed = self.stream(app, mutate)
            except StreamError as exc:
                return Result([], None, b"", "", error=f"error sending file to cmp-server: {exc}")
        else:
            root = self.unpack(mutate)
            cwd = root / (source.get("path") or ".")
        try:
            request = request_env(app, **request_kw)
            env = merge_env(self.base_sidecar_env(), hand_made(request) if hand_made else request)
            ok, err = self._discover(plugin, app, cwd, env, mutate)
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
            result.streamed = streamed
            if result.returncode == 0:
                try:
                    result.objects = parse_manifests(result.stdout)
                except (OutputError, UnicodeDecodeError) as exc:
                    result.error = f"failed to unmarshal manifest: {exc}"
            return result
        finally:
            shutil.rmtree(root, ignore_errors=True)  # deleted after the request, like the CMP server

    def _discover(self, plugin: Plugin, app: dict, cwd: Path, env: dict[str, str],
                  mutate: Callable[[Path], None] | None) -> tuple[bool, str | None]:
        """Discovery gets its own stream of the whole repository (D matchRepositoryCMP), never
        the generate paths; a plugin without a discover rule gets none."""
        if not plugin.spec.get("discover") or not self.streams:
            return self.matches(plugin, cwd, env)
        try:
            root, match_cwd, _ = self.stream(app, mutate, generate_paths=False)
        except StreamError as exc:
            return False, f"error sending stream: {exc}"
        try:
            return self.matches(plugin, match_cwd, env)
        finally:
            shutil.rmtree(root, ignore_errors=True)

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
