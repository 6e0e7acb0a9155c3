"""Rules JSON Schema cannot express: names derived from the project, uniqueness, reserved namespaces.

Each rule reads the loaded data defensively (the schema may have failed too), so one pass
reports every problem.
"""

from __future__ import annotations

import fnmatch
import re

from cmp_plugin import naming
from cmp_plugin.load import Loaded
from cmp_plugin.problems import Problem
from cmp_plugin.settings import BUILTIN_RESERVED, Settings
from cmp_plugin.validate import apps as apps_rules


def _items(value, key: str) -> list[tuple[int, dict]]:
    items = value.get(key) if isinstance(value, dict) else None
    return [(i, item) for i, item in enumerate(items or []) if isinstance(item, dict)] if isinstance(items, list) else []


def _name(item: dict) -> str | None:
    name = item.get("name")
    return name if isinstance(name, str) and naming.is_label(name) else None


def project_problems(loaded: Loaded, project: str, settings: Settings) -> list[Problem]:
    where = lambda msg, rule: Problem(loaded.file, 1, 1, "project", msg, rule)  # noqa: E731
    if not project or len(project) > naming.LABEL or not naming.is_label(project) or not project[0].isalpha():
        return [where(f"project name {project!r} (the file's stem, or --project) must be a lowercase RFC 1123 "
                      "label of at most 63 characters that starts with a letter", "project-name")]
    for pattern in BUILTIN_RESERVED + tuple(settings.reserved_namespaces):
        if fnmatch.fnmatchcase(project, pattern):
            return [where(f"project {project!r} would deploy into the reserved namespace pattern {pattern!r}", "reserved-namespace")]
    if project == settings.ingress_namespace:
        # its pods would be allowed into every project's app ports (docs/isolation.md)
        return [where(f"project {project!r} would deploy into the ingress controller's namespace "
                      "(setting ingress_namespace)", "reserved-namespace")]
    out = []
    limits = {**naming.LIMITS_PROJECT, **(naming.LIMITS_PROJECT_CI if _has_git_app(loaded.value) else {})}
    for key, limit in limits.items():
        name = naming.project_names(project)[key]
        if len(name) > limit:
            out.append(where(f"derived name {name!r} ({key.replace('_', ' ')}) is {len(name)} characters; "
                             f"Kubernetes allows {limit}: shorten the project name", "name-length"))
    return out


def _has_git_app(value) -> bool:
    """The project's CI objects (EventBus, EventSource, Sensor, CI RBAC) are rendered only then."""
    return any("git" in app for _, app in _items(value, "applications"))


def _length_problems(loaded: Loaded, path: tuple, names: dict, limits: dict) -> list[Problem]:
    out = []
    for key, limit in limits.items():
        name = names[key]
        if len(name) > limit:
            out.append(loaded.problem(path, f"derived name {name!r} ({key.replace('_', ' ')}) is {len(name)} characters; "
                                            f"Kubernetes allows {limit}: shorten the project or this name", "name-length"))
    return out


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _control_characters(loaded: Loaded, value, path: tuple = ()) -> list[Problem]:
    """No string in a project file holds a line break or control character: a schema pattern's
    `$` matches before a final newline, so this closes that gap for every field at once."""
    if isinstance(value, str):
        match = _CONTROL.search(value)
        return [loaded.problem(path, f"control character {match.group()!r} is not allowed", "control-character")] if match else []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    out = []
    for key, item in items:
        if isinstance(key, str) and _CONTROL.search(key):
            out.append(loaded.problem(path + (key,), "control characters are not allowed in keys", "control-character", key=True))
        out += _control_characters(loaded, item, path + (key,))
    return out


_LIMITS_SUB = {"processes": naming.LIMITS_PROCESS, "volumes": naming.LIMITS_VOLUME}


def data_problems(loaded: Loaded, project: str, settings: Settings) -> list[Problem]:
    value = loaded.value
    out: list[Problem] = _control_characters(loaded, value)
    apps, dbs = _items(value, "applications"), _items(value, "databases")
    databases = {d["name"]: d for _, d in dbs if isinstance(d.get("name"), str)}
    for i, app in apps:
        out += apps_rules.app_problems(loaded, i, app, databases, settings)
        name = _name(app)
        if name:
            for sub, names in apps_rules.derived_names(project, name, app).items():
                limits = apps_rules.job_limits(app["jobs"][sub[1]]) if sub[0] == "jobs" else _LIMITS_SUB[sub[0]]
                out += _length_problems(loaded, ("applications", i) + sub + ("name",), names, limits)
    for i, db in dbs:
        out += apps_rules.database_problems(loaded, i, db)
    if isinstance(value, dict) and not any(value.get(k) for k in ("applications", "databases")):
        out.append(Problem(loaded.file, 1, 1, "", "the project defines no applications and no databases; "
                                                  "refusing to render nothing (Argo CD would prune every resource)", "empty"))
    seen: dict[str, tuple] = {}  # Service name -> path that claimed it first
    for kind, items in (("applications", apps), ("databases", dbs)):
        for i, item in items:
            name = _name(item)
            if name is None:
                continue
            path = (kind, i, "name")
            if name in seen:
                first = loaded.place(seen[name])[0]
                out.append(loaded.problem(path, f"name {name!r} is already used on line {first} "
                                                "(applications and databases share one namespace of Services)", "duplicate-name"))
                continue
            seen[name] = path
            if kind == "applications":
                limits = naming.LIMITS_APP if "image" not in item else {
                    k: v for k, v in naming.LIMITS_APP.items() if k not in naming.CI_APP_NAMES}
                out += _length_problems(loaded, path, naming.app_names(project, name), limits)
            else:
                out += _length_problems(loaded, path, naming.db_names(project, name), naming.LIMITS_DB)
                if isinstance(item.get("backup"), dict):  # "(backup cronjob)" in the message
                    backup = {f"backup {k}": v for k, v in naming.backup_names(project, name).items()}
                    out += _length_problems(loaded, path, backup,
                                            {f"backup {k}": v for k, v in naming.LIMITS_BACKUP.items()})
    out += _collisions(loaded, project, seen)
    domains: dict[str, tuple] = {}
    for i, app in apps:
        name = _name(app)
        for j, domain in enumerate(app.get("domains") or [] if isinstance(app.get("domains"), list) else []):
            if not isinstance(domain, str):
                continue
            path = ("applications", i, "domains", j)
            if domain in domains and domains[domain][:2] != path[:2]:
                first = loaded.place(domains[domain])[0]
                out.append(loaded.problem(path, f"domain {domain!r} is already routed on line {first}", "duplicate-domain"))
            domains.setdefault(domain, path)
            if name:
                route = naming.route_name(project, name, domain)
                if len(route) > naming.SUBDOMAIN:
                    out.append(loaded.problem(path, f"derived name {route!r} is {len(route)} characters; Kubernetes allows 253", "name-length"))
    return out


# Which kind each derived name is, so two different sources cannot claim one object. The Services
# and StatefulSet are the ones Argo Events creates for the EventSource and the EventBus.
_PROJECT_KINDS = {"registry_secret": "Secret"}
_PROJECT_CI_KINDS = {"github_secret": "Secret", "ci_service_account": "ServiceAccount", "ci_role": "Role",
                     "ci_role_binding": "RoleBinding", "eventbus": "EventBus", "eventbus_service": "Service",
                     "eventbus_statefulset": "StatefulSet", "eventsource": "EventSource",
                     "eventsource_service": "Service", "sensor": "Sensor"}
_APP_KINDS = {"deployment": "Deployment", "service": "Service", "secret": "Secret",
              "workflow_template": "WorkflowTemplate", "webhook_route": "IngressRoute"}
_DB_KINDS = {"statefulset": "StatefulSet", "service": "Service", "secret": "Secret", "init": "ConfigMap"}
_BACKUP_KINDS = {"cronjob": "CronJob", "claim": "PersistentVolumeClaim", "pod_label": "pod label"}
# pod labels select pods for Services, PDBs and anti-affinity: two workloads must not share one
_SUB_KINDS = {"processes": (("deployment", "Deployment"), ("service", "Service"), ("pod_label", "pod label")),
              "jobs": (("job", "Job"), ("cronjob", "CronJob"), ("job", "pod label")),
              "volumes": (("claim", "PersistentVolumeClaim"),)}


def _collisions(loaded: Loaded, project: str, names: dict[str, tuple]) -> list[Problem]:
    """Derived names that two sources would both produce (app 'a' with domain 'b-c.example'
    and app 'a-b' with domain 'c.example' give one route name), reported at the later source."""
    claims: dict[tuple[str, str], tuple] = {}
    out = []

    def claim(kind: str, name: str, path: tuple) -> None:
        first = claims.setdefault((kind, name), path)
        if first != path:
            where = "the project itself" if first == () else f"line {loaded.place(first)[0]}"
            out.append(loaded.problem(path, f"derived {kind} name {name!r} is already derived from {where}; rename to avoid the clash", "name-collision"))

    if naming.is_label(project):  # otherwise project_problems has already refused the name
        kinds = {**_PROJECT_KINDS, **(_PROJECT_CI_KINDS if _has_git_app(loaded.value) else {})}
        for key, kind in kinds.items():
            claim(kind, naming.project_names(project)[key], ())
    for name, path in names.items():
        kind_of_item, index = path[0], path[1]
        if kind_of_item == "applications":
            derived = naming.app_names(project, name)
            app = loaded.value["applications"][index]
            for key, kind in _APP_KINDS.items():
                if key not in naming.CI_APP_NAMES or "image" not in app:  # a prebuilt image has no CI objects
                    claim(kind, derived[key], path)
            claim("pod label", derived["pod_label"], path)
            for sub, sub_names in apps_rules.derived_names(project, name, app).items():
                for key, kind in _SUB_KINDS[sub[0]]:
                    claim(kind, sub_names[key], ("applications", index) + sub + ("name",))
            for j, domain in enumerate(app.get("domains") or [] if isinstance(app.get("domains"), list) else []):
                if isinstance(domain, str):
                    claim("IngressRoute", naming.route_name(project, name, domain), ("applications", index, "domains", j))
        else:
            for key, kind in _DB_KINDS.items():
                claim(kind, naming.db_names(project, name)[key], path)
            claim("pod label", naming.db_names(project, name)["pod_label"], path)
            if isinstance(loaded.value["databases"][index].get("backup"), dict):
                for key, kind in _BACKUP_KINDS.items():
                    claim(kind, naming.backup_names(project, name)[key], path)
    return out
