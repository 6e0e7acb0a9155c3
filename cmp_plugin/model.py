"""The validated project as the templates see it: plain values plus every derived name."""

from __future__ import annotations

from dataclasses import dataclass

from cmp_plugin import naming
from cmp_plugin.settings import Settings


@dataclass(frozen=True)
class Route:
    domain: str
    name: str


@dataclass(frozen=True)
class App:
    name: str
    owner: str
    repo: str
    branch: str
    hash: str  # "" until a build sets it
    port: int
    domains: tuple[str, ...]
    routes: tuple[Route, ...]
    secrets: tuple[str, ...]
    build_context: str
    dockerfile: str
    build_args: tuple[tuple[str, str], ...]
    names: dict
    vault_path: str


@dataclass(frozen=True)
class Database:
    name: str
    type: str
    version: str
    port: int
    size: str
    names: dict
    vault_path: str


@dataclass(frozen=True)
class Project:
    name: str
    namespace: str
    file: str
    apps: tuple[App, ...]
    databases: tuple[Database, ...]
    names: dict
    vault_prefix: str


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
