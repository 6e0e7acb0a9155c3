"""The validated project as the templates see it: plain values plus every derived name."""

from __future__ import annotations

from collections import namedtuple

from cmp_plugin import naming
from cmp_plugin.settings import Settings

Route = namedtuple("Route", "domain name")


# hash is "" until a build sets it; names holds every derived Kubernetes name (naming.py).
App = namedtuple("App", "name owner repo branch hash port domains routes secrets build_context dockerfile build_args names vault_path")

Database = namedtuple("Database", "name type version port size names vault_path")

Project = namedtuple("Project", "name namespace file apps databases names vault_prefix")


def build(data: dict, name: str, file: str, settings: Settings) -> Project:
    """Turn validated data into the template model; assumes validate() found no problem."""
    prefix = settings.vault_prefix_for(name)
    apps = []
    for a in data.get("applications") or []:
        git, build_ = a["git"], a.get("build") or {}
        apps.append(App(
            name=a["name"], owner=git["owner"], repo=git["repo"], branch=git["branch"],
            hash=git.get("hash") or "", port=a["port"], domains=tuple(a.get("domains") or ()),
            routes=tuple(Route(d, naming.route_name(name, a["name"], d)) for d in a.get("domains") or ()),
            secrets=tuple(sorted(a.get("secrets") or ())),
            build_context=(build_.get("context") or "").strip("/"), dockerfile=build_.get("dockerfile") or "Dockerfile",
            build_args=tuple(sorted((build_.get("args") or {}).items())),
            names=naming.app_names(name, a["name"]), vault_path=f"{prefix}/apps/{a['name']}",
        ))
    dbs = [Database(name=d["name"], type=d["type"], version=d["version"], port=d["port"], size=d["size"],
                    names=naming.db_names(name, d["name"]), vault_path=f"{prefix}/databases/{d['name']}")
           for d in data.get("databases") or []]
    return Project(name=name, namespace=name, file=file, apps=tuple(apps), databases=tuple(dbs),
                   names=naming.project_names(name), vault_prefix=prefix)
