"""The validated project as the templates see it: plain values plus every derived name.

Anything a template would otherwise have to work out (probes, resources, env lists, database
URLs) is computed here once, as plain data, so templates only place values.
"""

from __future__ import annotations

from collections import namedtuple

from cmp_plugin import naming
from cmp_plugin.model import backup, workloads, wiring
from cmp_plugin.settings import Settings

Route = namedtuple("Route", "domain name")

# The port the project's EventSource serves GitHub's webhooks on: its Service, each webhook entry,
# the webhook IngressRoutes and the NetworkPolicy that admits them.
WEBHOOK_PORT = 12000

# source is "git" (built by the CI loop) or "image" (prebuilt). repository: where a git app's
# builds push, tagged with the commit sha ("" for a prebuilt image). image is the reference to
# run, "" while a git app has no hash: nothing of it is deployed before a build.
App = namedtuple("App", "name source owner repo branch hash repository image port routes secrets build_context "
                        "dockerfile build_args names vault_path workloads jobs volumes pull_secret hook_jobs")

# db_user/db_name are what applications connect as and to; managed: database and user were
# given, so the application user is an ordinary role and the administrator is separate.
# backup: a backup.Backup, or None.
Database = namedtuple("Database", "name type version port size names vault_path managed db_user db_name wired url "
                                  "resources security backup", defaults=(None,))

# Requests of a database container that names none: what each engine needs to start and serve a
# small application with its default settings (MongoDB's cache takes half of the memory above 1 GiB,
# at least 256 MiB).
ENGINE_RESOURCES = {"postgres": {"cpu": "100m", "memory": "256Mi"}, "mysql": {"cpu": "100m", "memory": "512Mi"},
                    "mongodb": {"cpu": "100m", "memory": "768Mi"}, "redis": {"cpu": "50m", "memory": "128Mi"}}

# default_resources: the platform's requests for the containers it owns (databases, API calls);
# build_resources: the image build's (settings build_*, then the defaults); build_cache: the
# repository of the build's layer cache; build_host_aliases: (ip, host) pairs for build pods.
Project = namedtuple("Project", "name namespace apps built_apps deployed_apps databases names vault_prefix "
                                "registry_secret default_resources build_resources build_cache build_host_aliases "
                                "webhook_port")


def build(data: dict, name: str, settings: Settings) -> Project:
    """Turn validated data into the template model; assumes validate() found no problem."""
    prefix = settings.vault_prefix_for(name)
    names = naming.project_names(name)
    raw_apps = data.get("applications") or []
    used = {use["name"] for a in raw_apps for use in wiring.uses_of(a)}
    dbs = tuple(_database(d, name, prefix, d["name"] in used, settings) for d in data.get("databases") or [])
    by_name = {d.name: d for d in dbs}
    registry = f"{settings.registry}/"
    # the registry Secret is rendered for git apps (their images live there) and lent to any
    # prebuilt image that is pulled from the platform's registry
    has_registry_secret = any("git" in a for a in raw_apps) or any(
        a.get("image", "").startswith(registry) for a in raw_apps)
    apps = tuple(_app(a, name, prefix, settings, by_name, names["registry_secret"] if has_registry_secret else "")
                 for a in raw_apps)
    return Project(name=name, namespace=name, apps=apps, built_apps=tuple(a for a in apps if a.source == "git"),
                   deployed_apps=tuple(a for a in apps if a.image), databases=dbs, names=names,
                   vault_prefix=prefix, registry_secret=names["registry_secret"] if has_registry_secret else "",
                   default_resources=workloads.resources(settings=settings),
                   build_resources=workloads.resources({"cpu": settings.build_cpu_request or None,
                                                        "memory": settings.build_memory_request or None},
                                                       settings=settings),
                   build_cache=f"{settings.registry}/{settings.registry_project}/cache",
                   build_host_aliases=tuple(_host_alias(pair) for pair in settings.registry_host_aliases),
                   webhook_port=WEBHOOK_PORT)


def _host_alias(pair: str) -> tuple[str, str]:
    """`IP=HOST` (the setting's format, which its pattern checks) -> (ip, host)."""
    ip, _, host = pair.partition("=")
    return ip, host


def _app(a: dict, project: str, prefix: str, settings: Settings, dbs: dict, registry_secret: str) -> App:
    git, build_ = a.get("git"), a.get("build") or {}
    names = naming.app_names(project, a["name"])
    if git:
        hash_ = git.get("hash") or ""
        repository = f"{settings.registry}/{settings.registry_project}/{names['image_name']}"
        image = f"{repository}:{hash_}" if hash_ else ""
        pull_secret = registry_secret
    else:
        hash_, repository, image = "", "", a["image"]
        pull_secret = registry_secret if image.startswith(f"{settings.registry}/") else ""
    domains = a.get("domains") or ()
    env = wiring.env_of(a, dbs)
    loads = workloads.workloads_of(a, names, env, settings)
    jobs = workloads.jobs_of(a, env, settings)
    return App(
        name=a["name"], source="git" if git else "image",
        owner=(git or {}).get("owner", ""), repo=(git or {}).get("repo", ""), branch=(git or {}).get("branch", ""),
        hash=hash_, repository=repository, image=image, port=a.get("port"),
        routes=tuple(Route(d, naming.route_name(project, a["name"], d)) for d in domains),
        secrets=tuple(sorted(a.get("secrets") or ())),
        build_context=(build_.get("context") or "").strip("/"), dockerfile=build_.get("dockerfile") or "Dockerfile",
        build_args=tuple(sorted((build_.get("args") or {}).items())),
        names=names, vault_path=f"{prefix}/apps/{a['name']}",
        workloads=loads, jobs=jobs, volumes=workloads.volumes_of(a, settings), pull_secret=pull_secret,
        hook_jobs=any(j.before for j in jobs),
    )


def _database(d: dict, project: str, prefix: str, wired: bool, settings: Settings) -> Database:
    managed = "user" in d
    db_user = d.get("user") or f"{d['name']}_user"
    db_name = d.get("database") or f"{d['name']}_db"
    vault_path = f"{prefix}/databases/{d['name']}"
    url = wiring.url(d["type"], db_user, db_name, d["name"], d["port"], vault_path, managed) if wired else ""
    db = Database(name=d["name"], type=d["type"], version=d["version"], port=d["port"], size=d["size"],
                  names=naming.db_names(project, d["name"]), vault_path=vault_path, managed=managed,
                  db_user=db_user, db_name=db_name, wired=wired, url=url,
                  resources=workloads.resources(d.get("resources"), ENGINE_RESOURCES[d["type"]], settings=settings),
                  security=workloads.database_security(d["type"], d["version"]))
    return db._replace(backup=backup.backup_of(d.get("backup"), project, db, settings))
