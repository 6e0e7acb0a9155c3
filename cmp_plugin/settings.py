"""Platform settings: what the seed hard-codes, read from one place.

Precedence, lowest first: built-in defaults, the settings file (`CMP_SETTINGS_FILE`, YAML),
then `CMP_*` environment variables. Settings belong to the platform team (the sidecar's
environment), never to a project file. `docs/settings.md` is generated from FIELDS.
"""

from __future__ import annotations

import os
import re
from collections import namedtuple
from typing import Mapping

from cmp_plugin.problems import Failure, run_problem

_HOST = r"(?=.{1,253}(?::|$))[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*"
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64})?$")


# kind is str, int, bool or list
Field = namedtuple("Field", "name env default kind doc pattern", defaults=("",))


FIELDS: tuple[Field, ...] = (
    Field("registry", "CMP_REGISTRY", "registry.example.com", "str",
          "Container registry host (and optional :port) that builds push to and Deployments pull from.",
          rf"^{_HOST}(:[0-9]{{1,5}})?$"),
    Field("registry_project", "CMP_REGISTRY_PROJECT", "platform", "str",
          "Registry project (Harbor project, or namespace) holding the images.",
          r"^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?$"),
    Field("registry_host_aliases", "CMP_REGISTRY_HOST_ALIASES", [], "list",
          "Optional `IP=HOST` pairs added as hostAliases to build pods (for a registry on a LAN address).",
          r"^(?:(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])|[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7})="
          + _HOST + "$"),
    Field("webhook_host", "CMP_WEBHOOK_HOST", "webhook.example.com", "str",
          "Public host that GitHub sends push webhooks to; each app gets the path `/<project>-<app>`.",
          rf"^{_HOST}$"),
    Field("gitops_repo", "CMP_GITOPS_REPO", "example/projects-gitops", "str",
          "GitHub `owner/name` of the gitops repository that holds `projects/*.yaml`.",
          r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$"),
    Field("vault_prefix", "CMP_VAULT_PREFIX", "kv/data/{project}", "str",
          "Vault path prefix of a project's secrets; `{project}` is replaced by the project name. "
          "A project can read nothing outside it.",
          r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.{}-]+)*$"),
    Field("builder_image", "CMP_BUILDER_IMAGE", "martizih/kaniko:v1.27.6", "str",
          "Image that builds application images, run as `/kaniko/executor` by root (default: the osscontainertools Kaniko fork, maintained since upstream was archived in 2025, pinned by tag).", _IMAGE.pattern),
    Field("curl_image", "CMP_CURL_IMAGE", "curlimages/curl:8.17.0", "str",
          "Image of the workflow steps that call the GitHub API, run as `curl` by uid 100, gid 101 "
          "(curlimages/curl's `curl_user`) on a read-only root filesystem.", _IMAGE.pattern),
    Field("push_latest", "CMP_PUSH_LATEST", False, "bool",
          "Also push the `latest` tag on every build (images are always tagged with the commit sha)."),
    Field("eventbus_replicas", "CMP_EVENTBUS_REPLICAS", 1, "int",
          "NATS servers of each project's JetStream EventBus: 1 (one pod, no redundancy) or 3 and more "
          "(a cluster that survives the loss of one; JetStream refuses 2).",
          r"^(1|[3-9]|[1-9][0-9])$"),
    Field("eventbus_jetstream_version", "CMP_EVENTBUS_JETSTREAM_VERSION", "2.10.29", "str",
          "NATS JetStream version of each project's EventBus; it must be one that the Argo Events "
          "controller's ConfigMap `argo-events-controller-config` lists.",
          r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"),
    Field("ingress_entry_points", "CMP_INGRESS_ENTRY_POINTS", ["websecure"], "list",
          "Traefik entry points of every IngressRoute.", r"^[A-Za-z0-9_-]+$"),
    Field("ingress_tls", "CMP_INGRESS_TLS", True, "bool",
          "Add a `tls` section to IngressRoutes (needed on a TLS entry point)."),
    Field("ingress_cert_resolver", "CMP_INGRESS_CERT_RESOLVER", "", "str",
          "Traefik certResolver for IngressRoute TLS; empty uses Traefik's default certificate.",
          r"^[A-Za-z0-9_-]*$"),
    Field("traefik_api_version", "CMP_TRAEFIK_API_VERSION", "traefik.io/v1alpha1", "str",
          "IngressRoute apiVersion: `traefik.io/v1alpha1` (Traefik v3) or `traefik.containo.us/v1alpha1` (v2).",
          r"^(traefik\.io|traefik\.containo\.us)/v1alpha1$"),
    Field("default_cpu_request", "CMP_DEFAULT_CPU_REQUEST", "", "str",
          "CPU request of every container that names none (empty: none). No container gets a CPU limit.",
          r"^(?:[1-9][0-9]{0,6}m|(?:0|[1-9][0-9]{0,2})(?:\.[0-9]{1,3})?)?$"),
    Field("default_memory_request", "CMP_DEFAULT_MEMORY_REQUEST", "", "str",
          "Memory request, and equal limit, of every container that names none (empty: none).",
          r"^(?:[1-9][0-9]{0,9}(?:Ki|Mi|Gi|Ti|k|M|G|T)?)?$"),
    Field("build_cpu_request", "CMP_BUILD_CPU_REQUEST", "500m", "str",
          "CPU request of the image build (Kaniko) container; no CPU limit (empty: `default_cpu_request`).",
          r"^(?:[1-9][0-9]{0,6}m|(?:0|[1-9][0-9]{0,2})(?:\.[0-9]{1,3})?)?$"),
    Field("build_memory_request", "CMP_BUILD_MEMORY_REQUEST", "2Gi", "str",
          "Memory request, and equal limit, of the image build container (empty: `default_memory_request`).",
          r"^(?:[1-9][0-9]{0,9}(?:Ki|Mi|Gi|Ti|k|M|G|T)?)?$"),
    Field("storage_class", "CMP_STORAGE_CLASS", "", "str",
          "StorageClass of application volumes (empty: the cluster's default).",
          r"^(?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$"),
    Field("reserved_namespaces", "CMP_RESERVED_NAMESPACES", [], "list",
          "Namespaces no project may use, on top of `default`, `kube-*` and `argocd`.", r"^[a-z0-9*-]+$"),
)

BUILTIN_RESERVED = ("default", "kube-*", "argocd")


class Settings(namedtuple("Settings", [f.name for f in FIELDS])):
    __slots__ = ()

    def vault_prefix_for(self, project: str) -> str:
        return self.vault_prefix.replace("{project}", project).rstrip("/")


def _convert(f: Field, raw: object, source: str) -> tuple[object, str | None]:
    if f.kind == "bool":
        if isinstance(raw, bool):
            return raw, None
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True, None
        if text in ("0", "false", "no", "off", ""):
            return False, None
        return None, f"{source}: expected true or false"
    if f.kind == "int":
        try:
            value = int(str(raw).strip())
        except ValueError:
            return None, f"{source}: expected an integer"
        if value < 1 or value > 99:
            return None, f"{source}: expected an integer from 1 to 99"
        if f.pattern and not re.match(f.pattern, str(value)):
            return None, f"{source}: {value} is not allowed: {f.doc}"
        return value, None
    if f.kind == "list":
        items = raw if isinstance(raw, list) else [s for s in re.split(r"[,\s]+", str(raw)) if s]
        items = [str(i) for i in items]
        if f.pattern:
            bad = [i for i in items if not re.match(f.pattern, i)]
            if bad:
                return None, f"{source}: {bad[0]!r} does not match {f.pattern}"
        return tuple(items), None
    value = str(raw).strip()
    if f.pattern and not re.match(f.pattern, value):
        return None, f"{source}: {value!r} does not match {f.pattern}"
    return value, None


def load_settings(env: Mapping[str, str] | None = None, file: str | None = None) -> Settings:
    """Build Settings from defaults, an optional YAML file and the environment; all problems at once."""
    env = os.environ if env is None else env
    file = file or env.get("CMP_SETTINGS_FILE") or None
    from_file: dict = {}
    problems = []
    if file:
        import yaml

        try:
            with open(file, "rb") as fh:
                from_file = yaml.safe_load(fh) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise Failure(run_problem(f"settings file {file}: {exc}")) from None
        if not isinstance(from_file, dict):
            raise Failure(run_problem(f"settings file {file}: expected a mapping"))
        known = {f.name for f in FIELDS}
        for key in sorted(set(from_file) - known):
            problems.append(run_problem(f"settings file {file}: unknown setting {key!r}"))
    values = {}
    for f in FIELDS:
        raw, source = f.default, None
        if f.name in from_file:
            raw, source = from_file[f.name], f"settings file {file}: {f.name}"
        if env.get(f.env) is not None:
            raw, source = env[f.env], f.env
        if source is None:
            values[f.name] = tuple(raw) if isinstance(raw, list) else raw
            continue
        value, error = _convert(f, raw, source)
        if error:
            problems.append(run_problem(error))
        values[f.name] = value
    if problems:
        raise Failure(problems)
    return Settings(**values)


def settings_reference() -> str:
    """The settings table for the README (kept in sync by a test)."""
    rows = ["| setting | environment | default | meaning |", "|---|---|---|---|"]
    for f in FIELDS:
        default = ",".join(f.default) if isinstance(f.default, list) else f.default
        default = str(default).lower() if isinstance(default, bool) else default
        rows.append(f"| `{f.name}` | `{f.env}` | `{default}` | {f.doc} |")
    return "\n".join(rows) + "\n"

