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
    if not naming.is_project_name(project):
        return [where(f"project name {project!r} (the file's stem, or --project) must be a lowercase RFC 1123 "
                      "label of at most 63 characters that starts with a letter", "project-name")]
    for pattern in BUILTIN_RESERVED + tuple(settings.reserved_namespaces):
        if fnmatch.fnmatchcase(project, pattern):
            return [where(f"project {project!r} would deploy into the reserved namespace pattern {pattern!r}", "reserved-namespace")]
    if project == settings.ingress_namespace:
        # its pods would be allowed into every project's app ports (docs/isolation.md)
        return [where(f"project {project!r} would deploy into the ingress controller's namespace "
                      "(setting ingress_namespace)", "reserved-namespace")]
    too_long = naming.too_long("project", naming.project_names(project), _project_facts(loaded.value))
    return [where(f"derived name {name!r} ({key.replace('_', ' ')}) is {len(name)} characters; "
                  f"Kubernetes allows {limit}: shorten the project name", "name-length")
            for key, name, limit in too_long]


def _project_facts(value) -> tuple:
    """The project's CI objects (EventBus, EventSource, Sensor, CI RBAC) are rendered only when an
    application is built from git."""
    return ("ci",) if any("git" in app for _, app in _items(value, "applications")) else ()


def _app_facts(app: dict) -> tuple:
    return () if "image" in app else ("ci",)  # a prebuilt image has no CI objects


def _db_facts(db: dict) -> tuple:
    return ("backup",) if isinstance(db.get("backup"), dict) else ()


def _sub_facts(kind: str, item: dict) -> tuple:
    """A job is rendered as a CronJob with a schedule and as a Job without one."""
    return (("scheduled",) if "schedule" in item else ("once",)) if kind == "jobs" else ()


def _length_problems(loaded: Loaded, path: tuple, group: str, names: dict, facts: tuple,
                     label: str = "") -> list[Problem]:
    return [loaded.problem(path, f"derived name {name!r} ({label}{key.replace('_', ' ')}) is {len(name)} characters; "
                                 f"Kubernetes allows {limit}: shorten the project or this name", "name-length")
            for key, name, limit in naming.too_long(group, names, facts)]


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


# the naming group of each list inside an application
_SUB_GROUPS = {"processes": "process", "jobs": "job", "volumes": "volume"}


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
                facts = _sub_facts(sub[0], app[sub[0]][sub[1]])
                out += _length_problems(loaded, ("applications", i) + sub + ("name",), _SUB_GROUPS[sub[0]], names, facts)
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
                out += _length_problems(loaded, path, "app", naming.app_names(project, name), _app_facts(item))
            else:
                out += _length_problems(loaded, path, "db", naming.db_names(project, name), ())
                # "(backup cronjob)" in the message
                out += _length_problems(loaded, path, "backup", naming.backup_names(project, name), _db_facts(item),
                                        "backup ")
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
                for _, route, limit in naming.too_long("route", {"route": naming.route_name(project, name, domain)}):
                    out.append(loaded.problem(path, f"derived name {route!r} is {len(route)} characters; "
                                                    f"Kubernetes allows {limit}", "name-length"))
    return out


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
        for kind, name in naming.claims("project", naming.project_names(project), _project_facts(loaded.value)):
            claim(kind, name, ())
    for name, path in names.items():
        kind_of_item, index = path[0], path[1]
        item = loaded.value[kind_of_item][index]
        if kind_of_item == "applications":
            for kind, derived in naming.claims("app", naming.app_names(project, name), _app_facts(item)):
                claim(kind, derived, path)
            for sub, sub_names in apps_rules.derived_names(project, name, item).items():
                # a job's name is claimed as both a Job and a CronJob, with a schedule or without
                for kind, derived in naming.claims(_SUB_GROUPS[sub[0]], sub_names, ("once", "scheduled")):
                    claim(kind, derived, ("applications", index) + sub + ("name",))
            for j, domain in enumerate(item.get("domains") or [] if isinstance(item.get("domains"), list) else []):
                if isinstance(domain, str):
                    for kind, route in naming.claims("route", {"route": naming.route_name(project, name, domain)}):
                        claim(kind, route, ("applications", index, "domains", j))
        else:
            for kind, derived in naming.claims("db", naming.db_names(project, name)):
                claim(kind, derived, path)
            for kind, derived in naming.claims("backup", naming.backup_names(project, name), _db_facts(item)):
                claim(kind, derived, path)
    return out
