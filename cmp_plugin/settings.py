"""Platform settings: what the seed hard-codes, read from one place.

Precedence, lowest first: built-in defaults, the settings file (`CMP_SETTINGS_FILE`, YAML),
then `CMP_*` environment variables. Settings belong to the platform team (the sidecar's
environment), never to a project file. The README's settings table is generated from FIELDS.

KNOBS are the other `CMP_*` variables: how a run behaves (time budgets, the Vault token cache,
bindings, debugging), not what it renders. They come from the process environment only, never
from the settings file, and `knob()` is their one reader.
"""

from __future__ import annotations

import os
import re
from collections import namedtuple
from typing import Mapping

from cmp_plugin.naming import is_project_name
from cmp_plugin.problems import Failure, run_problem

_HOST = r"(?=.{1,253}(?::|$))[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*"
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64})?$")


# kind is str, int, bool, list, map (names -> Kubernetes quantities, keys from MAP_KEYS) or
# overrides (per-project maps). env is None for a setting only the settings file can hold.
Field = namedtuple("Field", "name env default kind doc pattern", defaults=("",))

_CPU = r"^(?:[1-9][0-9]{0,6}m|(?:0|[1-9][0-9]{0,4})(?:\.[0-9]{1,3})?)$"
_BYTES = r"^(?:0|[1-9][0-9]{0,9}(?:Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?)$"
_COUNT = r"^(?:0|[1-9][0-9]{0,5})$"
# The keys a map setting may hold, in output order, with the pattern of their values.
MAP_KEYS = {
    "quota": {"requests.cpu": _CPU, "requests.memory": _BYTES, "limits.memory": _BYTES, "pods": _COUNT,
              "persistentvolumeclaims": _COUNT, "requests.storage": _BYTES},
    "limit_range": {"defaultRequest.cpu": _CPU, "defaultRequest.memory": _BYTES, "default.memory": _BYTES},
}
# Keys refused with a reason: no container gets a CPU limit (workloads.py), so a quota on CPU
# limits would refuse every pod, and a default CPU limit would throttle every busy one.
_REFUSED_KEYS = {
    "limits.cpu": "no container gets a CPU limit, so Kubernetes would refuse every pod",
    "default.cpu": "containers get no CPU limit (it throttles busy pods while the node is idle)",
}
# Values of the container and volume settings; empty means "none" or "the default".
_CPU_REQUEST = r"^(?:[1-9][0-9]{0,6}m|(?:0|[1-9][0-9]{0,2})(?:\.[0-9]{1,3})?)?$"
_MEMORY_REQUEST = r"^(?:[1-9][0-9]{0,9}(?:Ki|Mi|Gi|Ti|k|M|G|T)?)?$"
_STORAGE_CLASS = r"^(?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$"


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
    Field("default_cpu_request", "CMP_DEFAULT_CPU_REQUEST", "100m", "str",
          "CPU request of every application container that names none (empty: none). No container gets a CPU limit.",
          _CPU_REQUEST),
    Field("default_memory_request", "CMP_DEFAULT_MEMORY_REQUEST", "256Mi", "str",
          "Memory request, and equal limit, of every application container that names none (empty: none).",
          _MEMORY_REQUEST),
    Field("build_cpu_request", "CMP_BUILD_CPU_REQUEST", "500m", "str",
          "CPU request of the image build (Kaniko) container; no CPU limit (empty: `default_cpu_request`).",
          _CPU_REQUEST),
    Field("build_memory_request", "CMP_BUILD_MEMORY_REQUEST", "2Gi", "str",
          "Memory request, and equal limit, of the image build container (empty: `default_memory_request`).",
          _MEMORY_REQUEST),
    Field("storage_class", "CMP_STORAGE_CLASS", "", "str",
          "StorageClass of application volumes (empty: the cluster's default).",
          _STORAGE_CLASS),
    Field("backup_storage_class", "CMP_BACKUP_STORAGE_CLASS", "", "str",
          "StorageClass of database backup volumes (empty: the cluster's default). Backups are safer on "
          "other disks than the databases.",
          _STORAGE_CLASS),
    Field("backup_size", "CMP_BACKUP_SIZE", "10Gi", "str",
          "Size of a database's backup volume when its `backup` names none; it holds `keep` + 1 dumps.",
          r"^(?=[0-9.]*[1-9])[0-9]{1,10}(?:\.[0-9]{1,6})?(?:Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"),
    Field("secrets_mode", "CMP_SECRETS_MODE", "inline", "str",
          "How Secrets reach the cluster: `inline` (resolved from Vault by this plugin), `external-secrets` "
          "(ExternalSecrets for the External Secrets Operator) or `vault-secrets-operator` (VaultStaticSecrets); "
          "see docs/secrets-modes.md.", r"^(inline|external-secrets|vault-secrets-operator)$"),
    Field("secrets_vault_address", "CMP_SECRETS_VAULT_ADDRESS", "http://vault.vault.svc:8200", "str",
          "Vault address the operator connects to (SecretStore `server`, VaultConnection `address`); "
          "empty with vault-secrets-operator: the operator's default connection.",
          r"^(https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._/-]*)?)?$"),
    Field("secrets_vault_auth_mount", "CMP_SECRETS_VAULT_AUTH_MOUNT", "kubernetes", "str",
          "Vault Kubernetes auth mount the operator logs in with.", r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$"),
    Field("secrets_vault_role", "CMP_SECRETS_VAULT_ROLE", "cmp-{project}-secrets", "str",
          "Vault role of a project's operator ServiceAccount; `{project}` is replaced (manifests/vault/setup-project.sh).",
          r"^[A-Za-z0-9_.{}-]+$"),
    Field("secrets_refresh_interval", "CMP_SECRETS_REFRESH_INTERVAL", "1h", "str",
          "How often the operator re-reads Vault (ExternalSecret `refreshInterval`, VaultStaticSecret `refreshAfter`).",
          r"^([0-9]+(ms|s|m|h))+$"),
    Field("external_secrets_api_version", "CMP_EXTERNAL_SECRETS_API_VERSION", "v1", "str",
          "API version of External Secrets objects: `v1`, or `v1beta1` for operators before v0.16.",
          r"^(v1|v1beta1)$"),
    Field("secrets_reload", "CMP_SECRETS_RELOAD", "reloader", "str",
          "external-secrets mode: `reloader` annotates Deployments and StatefulSets for Stakater Reloader, which "
          "restarts them when a Secret they use changes; `none` leaves restarts to you.", r"^(reloader|none)$"),
    Field("secrets_keep_on_removal", "CMP_SECRETS_KEEP_ON_REMOVAL", False, "bool",
          "inline mode: mark Secrets `Prune=false`, the first step of moving to an operator mode "
          "(docs/secrets-modes.md)."),
    Field("reserved_namespaces", "CMP_RESERVED_NAMESPACES", [], "list",
          "Namespaces no project may use, on top of `default`, `kube-*` and `argocd`.", r"^[a-z0-9*-]+$"),
    Field("allow_root", "CMP_ALLOW_ROOT", False, "bool",
          "Allow an application to run as root when its project file sets `runAsRoot: true` "
          "(otherwise every application runs as a non-root user)."),
    Field("network_policies", "CMP_NETWORK_POLICIES", True, "bool",
          "Render each project's NetworkPolicies: ingress only from the project's own namespace, and from "
          "`ingress_namespace` to app and webhook ports ([docs/isolation.md](docs/isolation.md))."),
    Field("ingress_namespace", "CMP_INGRESS_NAMESPACE", "traefik", "str",
          "Namespace of the ingress controller (Traefik), allowed to reach app and webhook ports; "
          "`kube-system` for k3s's bundled Traefik. No project may be named after it.",
          r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"),
    Field("restrict_egress", "CMP_RESTRICT_EGRESS", False, "bool",
          "Also deny egress from application and database pods, except DNS (kube-system, port 53) and the "
          "project's own namespace. CI pods are not restricted."),
    Field("quota", "CMP_QUOTA",
          {"requests.cpu": "4", "requests.memory": "8Gi", "limits.memory": "24Gi", "pods": "50",
           "persistentvolumeclaims": "20", "requests.storage": "100Gi"}, "map",
          "ResourceQuota of every project, `key=value` pairs: `requests.cpu`, `requests.memory`, `limits.memory`, "
          "`pods`, `persistentvolumeclaims`, `requests.storage`. Empty: no ResourceQuota."),
    Field("limit_range", "CMP_LIMIT_RANGE",
          {"defaultRequest.cpu": "50m", "defaultRequest.memory": "64Mi", "default.memory": "1Gi"}, "map",
          "LimitRange of every project: requests (`defaultRequest.cpu`, `defaultRequest.memory`) and memory limit "
          "(`default.memory`) of containers that name none; never a CPU limit. Empty: no LimitRange."),
    Field("project_overrides", None, {}, "overrides",
          "Settings file only: per-project `quota` and `limit_range` keys that replace the platform's, "
          "e.g. `{shop: {quota: {pods: 80}}}`; `quota: null` drops that project's ResourceQuota."),
)

BUILTIN_RESERVED = ("default", "kube-*", "argocd")


class Settings(namedtuple("Settings", [f.name for f in FIELDS])):
    """Maps are tuples of (key, value) pairs; project_overrides is a tuple of
    (project, ((setting, pairs or None), ...)), None dropping that map for the project."""

    __slots__ = ()

    def vault_prefix_for(self, project: str) -> str:
        return self.vault_prefix.replace("{project}", project).rstrip("/")

    def quota_for(self, project: str) -> dict:
        return _map_for(self, project, "quota")

    def limit_range_for(self, project: str) -> dict:
        return _map_for(self, project, "limit_range")


def _map_for(settings, project: str, name: str) -> dict:
    """The platform's map with the project's override applied, keys in MAP_KEYS order."""
    values = dict(getattr(settings, name))
    for overridden, entries in settings.project_overrides:
        if overridden == project:
            for key, pairs in entries:
                if key == name:
                    values = {} if pairs is None else {**values, **dict(pairs)}
    return {k: values[k] for k in MAP_KEYS[name] if k in values}


_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}


def _bytes(quantity: str) -> int:
    number = quantity.rstrip("kKMGTPi")
    return int(number) * _UNITS[quantity[len(number):]]


def _map_problems(where: str, quota: dict, limit_range: dict) -> list[str]:
    """What Kubernetes would refuse later, said now: with a quota on a resource, a pod that names
    none is refused, so the LimitRange must fill it in (Argo's own pods name nothing)."""
    out = []
    needs = (("requests.cpu", ("defaultRequest.cpu",), "CPU request"),
             ("requests.memory", ("defaultRequest.memory", "default.memory"), "memory request"),
             ("limits.memory", ("default.memory",), "memory limit"))
    for key, defaults, what in needs:
        if key in quota and not any(d in limit_range for d in defaults):
            out.append(f"{where}quota sets {key}, so limit_range needs {defaults[0]}: Kubernetes refuses every "
                       f"pod with a container that names no {what} (Argo's own pods name none)")
    request, limit = limit_range.get("defaultRequest.memory"), limit_range.get("default.memory")
    if request and limit and _bytes(request) > _bytes(limit):
        out.append(f"{where}limit_range defaultRequest.memory {request} is more than default.memory {limit}; "
                   "Kubernetes refuses such a LimitRange")
    return out


def _convert_map(name: str, raw: object, source: str) -> tuple[object, str | None]:
    """A map setting: a mapping (settings file) or `key=value` pairs (environment); empty is none."""
    if raw is None or raw == "":
        return (), None
    if isinstance(raw, str):
        pairs = [item.partition("=") for item in re.split(r"[,\s]+", raw.strip()) if item]
        bad = [k for k, eq, _ in pairs if not eq]
        if bad:
            return None, f"{source}: {bad[0]!r} is not a key=value pair"
        raw = {k: v for k, _, v in pairs}
    if not isinstance(raw, dict):
        return None, f"{source}: expected a mapping of {', '.join(MAP_KEYS[name])} to quantities"
    out = {}
    for key, value in raw.items():
        if key in _REFUSED_KEYS:
            return None, f"{source}: {key} is not supported: {_REFUSED_KEYS[key]}"
        if key not in MAP_KEYS[name]:
            return None, f"{source}: unknown key {key!r} (expected one of {', '.join(MAP_KEYS[name])})"
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return None, f"{source}: {key}: expected a Kubernetes quantity, not {value!r}"
        value = str(value).strip()
        if not re.match(MAP_KEYS[name][key], value):
            return None, f"{source}: {key}: {value!r} does not match {MAP_KEYS[name][key]}"
        out[key] = value
    return tuple((k, out[k]) for k in MAP_KEYS[name] if k in out), None


def _convert_overrides(raw: object, source: str) -> tuple[object, list[str]]:
    """project_overrides: {project: {quota: map or null, limit_range: map or null}}."""
    if raw is None:
        return (), []
    if not isinstance(raw, dict):
        return None, [f"{source}: expected a mapping of project names to {{quota, limit_range}}"]
    out, problems = [], []
    for project in sorted(raw, key=str):
        entry, where = raw[project], f"{source}.{project}"
        if not isinstance(project, str) or not is_project_name(project):
            problems.append(f"{source}: {project!r} is not a project name (a lowercase RFC 1123 label)")
            continue
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping with quota and/or limit_range")
            continue
        entries = []
        for key in sorted(entry, key=str):
            if key not in MAP_KEYS:
                problems.append(f"{where}: unknown key {key!r} (expected quota or limit_range)")
                continue
            if entry[key] is None:
                entries.append((key, None))
                continue
            pairs, error = _convert_map(key, entry[key], f"{where}.{key}")
            if error:
                problems.append(error)
            else:
                entries.append((key, pairs))
        out.append((project, tuple(entries)))
    return tuple(out), problems


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def parse_switch(raw: object) -> bool | None:
    """Our booleans (settings and knobs): true/false, yes/no, on/off, 1/0, any case; empty is
    false; anything else None. argocd-vault-plugin's own variables and annotations keep Go's
    ParseBool (secrets/documents.parse_bool), as AVP reads them."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _convert(f: Field, raw: object, source: str) -> tuple[object, str | None]:
    if f.kind == "map":
        return _convert_map(f.name, raw, source)
    if f.kind == "bool":
        value = parse_switch(raw)
        return (None, f"{source}: expected true or false") if value is None else (value, None)
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
    file = file or knob(env, "CMP_SETTINGS_FILE") or None
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
        if f.env and env.get(f.env) is not None:
            raw, source = env[f.env], f.env
        if f.kind == "overrides":
            value, errors = _convert_overrides(raw, source) if source else ((), [])
            problems += [run_problem(e) for e in errors]
            values[f.name] = value
            continue
        if source is None:
            values[f.name] = (tuple(raw) if isinstance(raw, list) else
                              tuple(raw.items()) if isinstance(raw, dict) else raw)
            continue
        value, error = _convert(f, raw, source)
        if error:
            problems.append(run_problem(error))
        values[f.name] = value
    if problems:
        raise Failure(problems)
    settings = Settings(**values)
    problems = [run_problem(p) for p in _coherence_problems(settings, file)]
    if problems:
        raise Failure(problems)
    return settings


def _coherence_problems(settings: Settings, file: str | None) -> list[str]:
    """Settings that are each valid but do not work together, for the platform and each override."""
    out = []
    if settings.restrict_egress and not settings.network_policies:
        out.append("restrict_egress: needs network_policies (egress is restricted by a NetworkPolicy)")
    out += _map_problems("quota and limit_range: ", dict(settings.quota), dict(settings.limit_range))
    for project, _ in settings.project_overrides:
        out += _map_problems(f"settings file {file}: project_overrides.{project}: ",
                             settings.quota_for(project), settings.limit_range_for(project))
    return out


def settings_reference() -> str:
    """The settings table for the README (kept in sync by a test)."""
    rows = ["| setting | environment | default | meaning |", "|---|---|---|---|"]
    for f in FIELDS:
        default = ",".join(f.default) if isinstance(f.default, list) else f.default
        default = ",".join(f"{k}={v}" for k, v in default.items()) if isinstance(default, dict) else default
        default = str(default).lower() if isinstance(default, bool) else default
        env = f"`{f.env}`" if f.env else "(settings file)"
        rows.append(f"| `{f.name}` | {env} | `{default}` | {f.doc} |")
    return "\n".join(rows) + "\n"


SETTINGS_FILE_HEADER = """\
# Effective platform settings of cmp-render: defaults, then the settings file, then CMP_* variables.
# Every setting is listed; `cmp-render --settings THIS_FILE` (with no CMP_* variables set) renders
# exactly as the process that printed it.
"""


def settings_file_text(settings: Settings) -> str:
    """Every effective setting as a settings file that load_settings reads back to equal Settings."""
    import yaml

    data = {}
    for f in FIELDS:
        value = getattr(settings, f.name)
        if f.kind == "list":
            value = list(value)
        elif f.kind == "map":
            value = dict(value)
        elif f.kind == "overrides":
            value = {project: {key: None if pairs is None else dict(pairs) for key, pairs in entries}
                     for project, entries in value}
        data[f.name] = value
    return SETTINGS_FILE_HEADER + yaml.safe_dump(data, sort_keys=False, default_flow_style=False,
                                                 allow_unicode=False, width=1_000_000)


# A knob: env name, default, kind (bool, seconds, count, text, list), the largest value of a
# seconds or count knob, and what it does (docs/argocd.md describes each in context).
Knob = namedtuple("Knob", "env default kind limit doc")

KNOBS = {k.env: k for k in (
    Knob("CMP_SETTINGS_FILE", "", "text", None, "the platform settings file (an absolute path outside the repository)"),
    Knob("CMP_TIMEOUT_SECONDS", 45.0, "seconds", 3600.0, "the budget of one plugin run"),
    Knob("CMP_VAULT_TIMEOUT", 30.0, "seconds", 55.0, "the budget of all Vault requests of a run"),
    Knob("CMP_VAULT_MAX_RESPONSE_BYTES", 1024 * 1024, "count", None, "the largest Vault answer read"),
    Knob("CMP_VAULT_TOKEN_CACHE", True, "bool", None, "reuse a Vault token across runs"),
    Knob("CMP_VAULT_CACHE_DIR", "", "text", None, "where the Vault token cache lives"),
    Knob("CMP_RESOLVE_PREFIXES", (), "list", None, "Vault path prefixes `cmp-render resolve` may read"),
    Knob("CMP_RESOLVE_ANY_PATH", False, "bool", None, "let `cmp-render resolve` read any Vault path"),
    Knob("CMP_BIND_APP_PROJECT", False, "bool", None, "project X only for Applications of AppProject X"),
    Knob("CMP_BIND_APP_NAME", False, "bool", None, "project X only for the Application named X"),
    Knob("CMP_HELM", "helm", "text", None, "the helm executable of the generic plugin"),
    Knob("CMP_DEBUG", False, "bool", None, "print a traceback with an internal error"),
)}

_EXPECT = {"bool": "true or false", "seconds": "seconds above 0 and at most {limit:g}",
           "count": "a whole number above 0"}


def knob_value(name: str, raw: str | None) -> tuple[object, str]:
    """(value, "") or (None, problem) for the raw text of knob `name`; unset or blank is its default."""
    k = KNOBS[name]
    text = (raw or "").strip()
    if not text:
        return k.default, ""
    value: object = text
    if k.kind == "bool":
        value = parse_switch(text)
    elif k.kind == "list":
        value = tuple(item.strip() for item in text.split(",") if item.strip())
    elif k.kind in ("seconds", "count"):
        try:
            value = float(text) if k.kind == "seconds" else int(text)
        except ValueError:
            value = None
        if value is not None and not (0 < value <= (k.limit or float("inf"))):
            value = None
    if value is None:
        return None, f"{name}={raw!r}: expected " + _EXPECT[k.kind].format(limit=k.limit or 0)
    return value, ""


def knob(env: Mapping[str, str], name: str):
    """The value of knob `name` in `env`; a Failure names a value that is not of its kind, so that
    a typo cannot silently turn a check off."""
    value, problem = knob_value(name, env.get(name))
    if problem:
        raise Failure(run_problem(problem, "knob"))
    return value


def knobs_reference() -> str:
    """The knobs table for the README (kept in sync by a test)."""
    rows = ["| environment | kind | default | what it sets |", "|---|---|---|---|"]
    for k in KNOBS.values():
        kind = f"{k.kind}, at most {k.limit:g}" if k.limit else k.kind
        default = str(k.default).lower() if isinstance(k.default, bool) else ",".join(k.default) \
            if isinstance(k.default, tuple) else k.default
        rows.append(f"| `{k.env}` | {kind} | `{default}` | {k.doc} |")
    return "\n".join(rows) + "\n"


def debug(env: Mapping[str, str] | None = None) -> bool:
    """CMP_DEBUG, read while reporting a bug: a value that is not a boolean counts as off."""
    return knob_value("CMP_DEBUG", (os.environ if env is None else env).get("CMP_DEBUG"))[0] is True
