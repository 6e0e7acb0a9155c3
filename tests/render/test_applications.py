"""Applications beyond one Deployment: processes, jobs, scaling, volumes, prebuilt images and
database wiring, rendered from examples/projects/blog.yaml and from table-driven variants.

Every render is checked three ways: the independent integrity checker (_support.integrity_problems),
the upstream / Kubernetes schemas (skipped where ../shared is absent), and an oracle below that
restates, from docs/applications.md and the project-file schema, what a user relies on: which
objects exist, their replicas, probes, resources, env, hooks and the databases' users.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from cmp_plugin.check import check
from cmp_plugin.pipeline import load_project, render_documents, render_file, validate_text

from ._support import (EXAMPLES, HASH_A, HASH_B, all_object_errors, docs_of, integrity_problems, name_problems,
                       object_errors, pod_template, require_shared, settings_for, write_project)

REGISTRY, REGISTRY_PROJECT = "registry.example.com", "platform"  # the settings' defaults
DEFAULT_PORTS = {"mysql": 3306, "postgres": 5432, "redis": 6379, "mongodb": 27017}


def git(repo: str, hash: str | None = HASH_A) -> dict:
    return {"owner": "acme", "repo": repo, "branch": "main", "hash": hash}


def database(name: str, type: str, *, port: int | None = None, **extra) -> dict:
    return {"name": name, "type": type, "version": "7.0" if type == "mongodb" else "16", "port": port or DEFAULT_PORTS[type],
            "size": "1Gi", **extra}


# (id, project name, project data, settings environment)
VARIANTS = [
    ("worker-only", "mail", {"applications": [{
        "name": "consumer", "git": git("mailer"), "command": ["/app/consumer"], "args": ["--queue", "$(QUEUE_NAME)"],
        "env": {"QUEUE_NAME": "outbound"}, "secrets": ["SMTP_PASSWORD"], "replicas": 3,
        "resources": {"cpu": "100m", "memory": "128Mi"}}]}, {}),
    ("worker-exec-health", "mail", {"applications": [{
        "name": "consumer", "git": git("mailer"), "command": ["/app/consumer"], "health": {"exec": ["/app/consumer", "check"]},
        "resources": {"memory": "64Mi"}}]}, {}),
    ("image-cron", "flow", {"applications": [{
        "name": "flower", "image": "mher/flower:2.0", "port": 5555, "domains": ["flower.example.com"],
        "uses": [{"name": "broker", "prefix": "CELERY_BROKER"}], "env": {"FLOWER_PORT": "5555"},
        "jobs": [{"name": "purge", "command": ["celery", "purge", "-f"], "schedule": "*/15 * * * *",
                  "timeZone": "Europe/Berlin", "deadline": 600},
                 {"name": "weekly", "command": ["report"], "args": ["--weekly"], "schedule": "@weekly"}]}],
        "databases": [database("broker", "redis")]}, {}),
    ("autoscale", "scale", {"applications": [{
        "name": "api", "git": git("api"), "port": 8080, "autoscale": {"min": 2, "max": 6, "cpu": 60},
        "resources": {"cpu": "250m", "memory": "256Mi"}, "health": {"http": "/healthz"},
        "processes": [{"name": "worker", "command": ["work"], "autoscale": {"max": 4}},
                      {"name": "single", "command": ["one"], "autoscale": {"max": 1}, "resources": {"cpu": 1}},
                      {"name": "pinned", "command": ["pin"], "replicas": 1}]}]}, {}),
    ("autoscale-default-cpu-request", "scale", {"applications": [{
        "name": "api", "image": "ghcr.io/acme/api:1.4.2", "port": 8080, "autoscale": {"max": 3}}]},
     {"CMP_DEFAULT_CPU_REQUEST": "50m", "CMP_DEFAULT_MEMORY_REQUEST": "96Mi"}),
    ("volumes", "files", {"applications": [{
        "name": "cms", "image": "ghost:5.90", "port": 2368, "domains": ["cms.example.com"],
        "volumes": [{"name": "content", "path": "/var/lib/ghost/content", "size": "5Gi"},
                    {"name": "cache", "path": "/cache", "size": "512Mi"}],
        "processes": [{"name": "indexer", "command": ["index"]}],
        "jobs": [{"name": "backup", "command": ["backup"], "schedule": "0 3 * * *"}]}]}, {}),
    ("volumes-storage-class", "files", {"applications": [{
        "name": "cms", "image": "ghost:5.90", "port": 2368, "strategy": "Recreate", "replicas": 1,
        "volumes": [{"name": "content", "path": "/content", "size": "5Gi"}]}]}, {"CMP_STORAGE_CLASS": "fast-ssd"}),
    ("processes-with-port", "proc", {"applications": [{
        "name": "web", "git": git("web"), "port": 8000, "secrets": ["TOKEN"], "env": {"MODE": "web", "SHARED": "x"},
        "command": ["serve"], "resources": {"cpu": "200m", "memory": "256Mi"},
        "processes": [
            {"name": "grpc", "command": ["serve-grpc"], "port": 9090, "health": {"grpc": True}, "env": {"MODE": "grpc"},
             "replicas": 2},
            {"name": "metrics", "port": 9100, "resources": {"memory": "64Mi"}},
            {"name": "admin", "port": 9000, "health": {"tcp": True}, "strategy": "Recreate"},
            {"name": "worker", "command": ["work"], "health": {"exec": ["work", "--check"]}, "env": {"EXTRA": "1"}},
            {"name": "quiet", "command": ["x"], "port": 7000, "health": {"none": True}}]}]}, {}),
    ("jobs", "jobs", {"applications": [
        {"name": "api", "git": git("api"), "port": 80, "secrets": ["K"], "env": {"X": "app"},
         "processes": [{"name": "worker", "command": ["w"]}],
         "jobs": [{"name": "migrate", "command": ["migrate"], "before": "deploy", "deadline": 900},
                  {"name": "seed", "command": ["seed"], "args": ["--once"], "before": "deploy", "env": {"X": "job"},
                   "resources": {"memory": "1Gi"}},
                  {"name": "report", "command": ["report"], "schedule": "30 6 * * MON-FRI", "env": {"Y": "1"}}]},
        {"name": "other", "image": "nginx:1.27", "port": 80},
        {"name": "unbuilt", "git": git("unbuilt", hash=None), "port": 80,
         "jobs": [{"name": "migrate", "command": ["migrate"], "before": "deploy"}]}]}, {}),
    ("uses-each-type", "wire", {"applications": [
        {"name": "api", "git": git("api"), "port": 80,
         "uses": ["orders", "catalog", {"name": "cache", "prefix": "REDIS"}, {"name": "events", "prefix": "MONGO"}],
         "env": {"DSN_HINT": "$(ORDERS_HOST):$(ORDERS_PORT)"}},
        {"name": "tool", "image": "busybox:1.36", "uses": ["my-cache", {"name": "orders", "prefix": "DB"}],
         "command": ["sleep", "infinity"]}],
        "databases": [database("orders", "mysql", port=13306), database("catalog", "postgres"),
                      database("cache", "redis"), database("events", "mongodb", port=27018),
                      database("my-cache", "redis", port=6380), database("unused", "postgres", port=5433)]}, {}),
    ("managed-databases", "mgd", {"applications": [
        {"name": "api", "image": "ghcr.io/acme/api:2.0", "port": 80,
         "uses": [{"name": "pg", "prefix": "DATABASE"}, "my", {"name": "mongo", "prefix": "MONGO"}]}],
        "databases": [database("pg", "postgres", database="shop", user="shop"),
                      database("my", "mysql", port=3307, database="shop_db", user="shop_user"),
                      database("mongo", "mongodb", database="catalog", user="catalog"),
                      database("plainpg", "postgres", port=5440), database("plainmongo", "mongodb", port=27019)]}, {}),
    ("registry-image", "reg", {"applications": [
        {"name": "tool", "image": f"{REGISTRY}/{REGISTRY_PROJECT}/tool:1.2", "port": 80},
        {"name": "pub", "image": "nginx@sha256:" + "a" * 64, "port": 80}]}, {}),
    ("image-only", "pub", {"applications": [
        {"name": "docs", "image": "nginxinc/nginx-unprivileged:1.27-alpine", "port": 8080, "domains": ["docs.example.com"],
         "replicas": 2, "secrets": ["BASIC_AUTH"]}]}, {}),
]

EXAMPLE_VARIANTS = [(f"example-{p.stem}", p.stem, yaml.safe_load(p.read_text("utf-8")), {})
                    for p in (EXAMPLES / "blog.yaml", EXAMPLES / "catalog.yaml", EXAMPLES / "mailer.yaml") if p.is_file()]
ALL = VARIANTS + EXAMPLE_VARIANTS
IDS = [v[0] for v in ALL]

_CACHE: dict[str, list[dict]] = {}


def rendered(case, tmp_path_factory) -> list[dict]:
    """The printed objects of one variant (render_file: validation, render, check and emit)."""
    ident, name, data, env = case
    if ident not in _CACHE:
        text = yaml.safe_dump(data, sort_keys=False)
        settings = settings_for(env)
        problems = validate_text(text, f"{name}.yaml", settings=settings)
        assert [p.format() for p in problems] == [], f"variant {ident} is not a valid project"
        path = write_project(tmp_path_factory.mktemp(ident), name, text)
        _CACHE[ident] = docs_of(render_file(str(path), settings=settings, env={}))
    return copy.deepcopy(_CACHE[ident])


# --------------------------------------------------------------------------- helpers

def find(docs, kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) <= 1, f"{kind} {name!r} twice"
    return found[0] if found else None


def get(docs, kind, name):
    doc = find(docs, kind, name)
    assert doc is not None, f"no {kind} {name!r} in {sorted((d['kind'], d['metadata']['name']) for d in docs)}"
    return doc


def container(doc) -> dict:
    containers = pod_template(doc)["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(c) -> dict:
    names = [e["name"] for e in c.get("env") or []]
    assert len(names) == len(set(names)), f"duplicate env names {names}"
    return {e["name"]: e for e in c.get("env") or []}


def secret_ref(entry) -> tuple:
    ref = entry["valueFrom"]["secretKeyRef"]
    assert set(entry) == {"name", "valueFrom"} and "optional" not in ref
    return ref["name"], ref["key"]


def uses_of(app) -> list[tuple[str, str]]:
    """(database, prefix) in file order; the default prefix is the name, upper-cased, '-' as '_'."""
    out = []
    for item in app.get("uses") or []:
        name, prefix = (item, None) if isinstance(item, str) else (item["name"], item.get("prefix"))
        out.append((name, prefix or name.upper().replace("-", "_")))
    return out


def db_user_and_name(db) -> tuple[str, str]:
    """What applications connect as and to: the managed user and database, else the seed's."""
    if "user" in db:
        return db["user"], db["database"]
    return f"{db['name']}_user", f"{db['name']}_db"


def _by_name(data) -> dict:
    return {d["name"]: d for d in data.get("databases") or []}


def _settings(env) -> dict:
    return {"cpu": env.get("CMP_DEFAULT_CPU_REQUEST", "100m"), "memory": env.get("CMP_DEFAULT_MEMORY_REQUEST", "256Mi"),
            "storage_class": env.get("CMP_STORAGE_CLASS", "")}


# --------------------------------------------------------------------------- the oracle

def expected_env(project: str, app: dict, dbs: dict, override: dict | None) -> list[dict]:
    """The container env: the databases' variables, then `env` in file order; a process's or job's
    own env replaces the app's value in place and appends new names."""
    out = []
    for name, prefix in uses_of(app):
        db = dbs[name]
        secret = f"{project}-{name}-secret"
        user, dbname = db_user_and_name(db)
        out += [{"name": f"{prefix}_HOST", "value": name}, {"name": f"{prefix}_PORT", "value": str(db["port"])},
                {"name": f"{prefix}_USER", "value": "default" if db["type"] == "redis" else user}]
        if db["type"] != "redis":
            out.append({"name": f"{prefix}_NAME", "value": dbname})
        out += [{"name": f"{prefix}_{var}", "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
                for var, key in (("PASSWORD", "password"), ("URL", "url"))]
    extra = dict(override or {})
    for key, value in (app.get("env") or {}).items():
        out.append({"name": key, "value": extra.pop(key, value)})
    out += [{"name": k, "value": v} for k, v in extra.items()]
    return out


def expected_resources(own: dict | None, app: dict | None, settings: dict) -> dict:
    own, app = own or {}, app or {}
    cpu = own.get("cpu", app.get("cpu"))
    cpu = str(cpu) if cpu is not None else settings["cpu"]
    memory = own.get("memory", app.get("memory")) or settings["memory"]
    out = {}
    if cpu or memory:
        out["requests"] = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    if memory:
        out["limits"] = {"memory": memory}  # the memory limit is the request; never a CPU limit
    return out


def expected_probes(health: dict | None, port: int | None) -> dict:
    if health is None:
        if port is None:
            return {}
        tcp = {"tcpSocket": {"port": port}}
        return {"readinessProbe": {**tcp, "initialDelaySeconds": 20, "periodSeconds": 10, "successThreshold": 3},
                "livenessProbe": {**tcp, "initialDelaySeconds": 60, "periodSeconds": 20, "failureThreshold": 3}}
    if "none" in health:
        return {}
    check_ = ({"httpGet": {"path": health["http"], "port": port}} if "http" in health else
              {"grpc": {"port": port}} if "grpc" in health else
              {"tcpSocket": {"port": port}} if "tcp" in health else {"exec": {"command": health["exec"]}})
    return {"startupProbe": {**check_, "periodSeconds": 5, "failureThreshold": 60, "timeoutSeconds": 3},
            "readinessProbe": {**check_, "periodSeconds": 10, "failureThreshold": 3, "timeoutSeconds": 3},
            "livenessProbe": {**check_, "periodSeconds": 20, "failureThreshold": 3, "timeoutSeconds": 5}}


def tmp_mount(app: dict) -> list[dict]:
    """readOnlyRootFilesystem: every container of the app gets a writable emptyDir at /tmp."""
    return [{"name": "tmp", "mountPath": "/tmp"}] if app.get("readOnlyRootFilesystem") else []


def tmp_volume(app: dict) -> list[dict]:
    return [{"name": "tmp", "emptyDir": {}}] if app.get("readOnlyRootFilesystem") else []


def image_of(project: str, app: dict) -> str | None:
    if app.get("image"):
        return app["image"]
    hash_ = app["git"].get("hash")
    return f"{REGISTRY}/{REGISTRY_PROJECT}/{project}-{app['name']}:{hash_}" if hash_ else None


def oracle_problems(docs: list[dict], project: str, data: dict, env: dict) -> list[str]:
    """What docs/applications.md promises for this project file, as a list of broken promises."""
    out: list[str] = []
    settings = _settings(env)
    dbs = _by_name(data)
    apps = data.get("applications") or []
    ns = {d["metadata"].get("namespace") for d in docs}
    if ns != {project}:
        out.append(f"namespaces {ns}")

    def expect(cond, message):
        if not cond:
            out.append(message)

    git_apps = [a for a in apps if "git" in a]
    under_registry = any(a.get("image", "").startswith(REGISTRY + "/") for a in apps)
    expect((find(docs, "Secret", "registry-secret") is not None) == bool(git_apps or under_registry),
           "registry-secret rendered iff a git app or an image in the platform's registry")
    for kind, name in (("Secret", f"{project}-github-access-secret"), ("EventBus", f"{project}-ci-bus"),
                       ("EventSource", f"{project}-ci-github"), ("Sensor", f"{project}-ci-github-sensor"),
                       ("ServiceAccount", f"{project}-ci-workflow-sa"), ("Role", f"{project}-ci-workflow-role")):
        expect((find(docs, kind, name) is not None) == bool(git_apps), f"{kind} {name} iff the project has a git app")

    for app in apps:
        a = app["name"]
        image = image_of(project, app)
        ci = [("WorkflowTemplate", f"{project}-{a}-build-workflow-template"), ("IngressRoute", f"{project}-{a}-webhook-route")]
        for kind, name in ci:
            expect((find(docs, kind, name) is not None) == ("git" in app), f"{kind} {name} iff {a} is built from git")
        app_secret = find(docs, "Secret", f"{project}-{a}-secret")
        if app.get("secrets") and image is not None:
            want = {k: f"<path:kv/data/{project}/apps/{a}#{k}>" for k in app["secrets"]}
            expect(app_secret is not None and app_secret["stringData"] == want,
                   f"Secret {project}-{a}-secret: {app_secret and app_secret['stringData']}")
        else:
            expect(app_secret is None, f"Secret {project}-{a}-secret without secrets or before a build")
        pull = "registry-secret" if ("git" in app or app.get("image", "").startswith(REGISTRY + "/")) else None
        hooks = any(j.get("before") == "deploy" for j in app.get("jobs") or [])
        specs = [("", f"{a}-app", f"{a}-app", a, app)] + [
            (p["name"], f"{a}-{p['name']}", p["name"], f"{a}-{p['name']}", p) for p in app.get("processes") or []]
        for proc, dep_name, container_name, service_name, spec in specs:
            dep = find(docs, "Deployment", dep_name)
            if image is None:
                expect(dep is None, f"Deployment {dep_name} before a build")
                continue
            if dep is None:
                out.append(f"no Deployment {dep_name}")
                continue
            where = f"Deployment {dep_name}"
            pod = pod_template(dep)["spec"]
            c = container(dep)
            expect(c["name"] == container_name, f"{where}: container {c['name']}")
            expect(c["image"] == image, f"{where}: image {c['image']} != {image}")
            expect(c.get("command") == spec.get("command"), f"{where}: command {c.get('command')}")
            expect(c.get("args") == spec.get("args"), f"{where}: args {c.get('args')}")
            port = spec.get("port")
            svc = find(docs, "Service", service_name)
            expect((svc is not None) == (port is not None), f"{where}: Service {service_name} iff a port")
            if svc is not None and port is not None:
                expect([(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(port, port)],
                       f"Service {service_name} ports")
            expect(c.get("ports") == ([{"name": "http", "containerPort": port}] if port else None), f"{where}: ports")
            expect(("lifecycle" in c) == (port is not None), f"{where}: preStop delay iff a port")
            probes = {k: v for k, v in c.items() if k.endswith("Probe")}
            expect(probes == expected_probes(spec.get("health"), port), f"{where}: probes {probes}")
            expect(c.get("resources", {}) == expected_resources(spec.get("resources"), app.get("resources") if proc else None,
                                                                settings), f"{where}: resources {c.get('resources')}")
            expect("cpu" not in (c.get("resources") or {}).get("limits", {}), f"{where}: a CPU limit")
            expect(c.get("env", []) == expected_env(project, app, dbs, spec.get("env") if proc else None),
                   f"{where}: env {c.get('env')}")
            expect(c.get("envFrom") == ([{"secretRef": {"name": f"{project}-{a}-secret"}}] if app.get("secrets") else None),
                   f"{where}: envFrom {c.get('envFrom')}")
            expect(pod.get("imagePullSecrets") == ([{"name": pull}] if pull else None),
                   f"{where}: imagePullSecrets {pod.get('imagePullSecrets')}")
            annotations = dep["metadata"].get("annotations") or {}
            expect(annotations == ({"argocd.argoproj.io/sync-wave": "2"} if hooks else {}),
                   f"{where}: annotations {annotations} (wave 2 iff the app has before-deploy jobs)")
            # scaling
            hpa = find(docs, "HorizontalPodAutoscaler", dep_name)
            scale = spec.get("autoscale")
            if scale:
                expect("replicas" not in dep["spec"], f"{where}: replicas under autoscale")
                if hpa is None:
                    out.append(f"{where}: no HorizontalPodAutoscaler")
                else:
                    hs = hpa["spec"]
                    expect(hs["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": dep_name},
                           f"HPA {dep_name} target")
                    expect((hs["minReplicas"], hs["maxReplicas"]) == (scale.get("min", 1), scale["max"]), f"HPA {dep_name} range")
                    expect(hs["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
                        "type": "Utilization", "averageUtilization": scale.get("cpu", 80)}}}], f"HPA {dep_name} metrics")
                most = scale["max"]
            else:
                expect(hpa is None, f"{where}: an HPA without autoscale")
                expect(dep["spec"].get("replicas") == spec.get("replicas", 1), f"{where}: replicas {dep['spec'].get('replicas')}")
                most = spec.get("replicas", 1)
            pdb = find(docs, "PodDisruptionBudget", dep_name)
            expect((pdb is not None) == (most > 1), f"{where}: PodDisruptionBudget iff more than one pod ({most})")
            if pdb is not None:
                expect(pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": pod_template(dep)["metadata"]["labels"]}},
                       f"PDB {dep_name}: {pdb['spec']}")
            # volumes: the app's main container only
            volumes = (app.get("volumes") or []) if not proc else []
            strategy = dep["spec"]["strategy"]
            wanted = spec.get("strategy") or ("Recreate" if volumes else "RollingUpdate")
            expect(strategy["type"] == wanted, f"{where}: strategy {strategy}")
            if wanted == "RollingUpdate":
                expect(strategy.get("rollingUpdate") == {"maxSurge": 1, "maxUnavailable": 0}, f"{where}: {strategy}")
            expect(c.get("volumeMounts", []) == [{"name": v["name"], "mountPath": v["path"]} for v in volumes]
                   + tmp_mount(app), f"{where}: volumeMounts {c.get('volumeMounts')}")
            expect(pod.get("volumes", []) == [{"name": v["name"], "persistentVolumeClaim": {"claimName": f"{a}-{v['name']}"}}
                                              for v in volumes] + tmp_volume(app), f"{where}: volumes {pod.get('volumes')}")
        for v in app.get("volumes") or []:
            pvc = find(docs, "PersistentVolumeClaim", f"{a}-{v['name']}")
            if image is None:
                continue
            if pvc is None:
                out.append(f"no PersistentVolumeClaim {a}-{v['name']}")
                continue
            want = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": v["size"]}}}
            if settings["storage_class"]:
                want["storageClassName"] = settings["storage_class"]
            expect(pvc["spec"] == want, f"PVC {a}-{v['name']}: {pvc['spec']}")
            expect(pvc["metadata"].get("annotations") == {"argocd.argoproj.io/sync-options": "Prune=false"},
                   f"PVC {a}-{v['name']}: annotations")
        for job in app.get("jobs") or []:
            name = f"{a}-{job['name']}"
            kind = "Job" if job.get("before") == "deploy" else "CronJob"
            doc = find(docs, kind, name)
            other = find(docs, "CronJob" if kind == "Job" else "Job", name)
            expect(other is None, f"{name}: both a Job and a CronJob")
            if image is None:
                expect(doc is None, f"{kind} {name} before a build")
                continue
            if doc is None:
                out.append(f"no {kind} {name}")
                continue
            where = f"{kind} {name}"
            annotations = doc["metadata"].get("annotations") or {}
            if kind == "Job":
                expect(annotations == {"argocd.argoproj.io/hook": "Sync",
                                       "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
                                       "argocd.argoproj.io/sync-wave": "1"}, f"{where}: annotations {annotations}")
                job_spec = doc["spec"]
            else:
                expect(annotations == {}, f"{where}: annotations {annotations}")
                cs = doc["spec"]
                expect(cs["schedule"] == job["schedule"], f"{where}: schedule")
                expect(cs.get("timeZone") == job.get("timeZone"), f"{where}: timeZone")
                expect(cs["concurrencyPolicy"] == "Forbid", f"{where}: concurrencyPolicy")
                expect(cs["startingDeadlineSeconds"] == 300, f"{where}: startingDeadlineSeconds")
                expect((cs["successfulJobsHistoryLimit"], cs["failedJobsHistoryLimit"]) == (3, 3), f"{where}: history")
                job_spec = cs["jobTemplate"]["spec"]
            expect(job_spec["backoffLimit"] == 2, f"{where}: backoffLimit")
            expect(job_spec["activeDeadlineSeconds"] == job.get("deadline", 3600), f"{where}: activeDeadlineSeconds")
            pod = pod_template(doc)["spec"]
            expect(pod["restartPolicy"] == "Never", f"{where}: restartPolicy")
            c = container(doc)
            expect(c["name"] == job["name"] and c["image"] == image, f"{where}: container {c['name']} {c['image']}")
            expect(c["command"] == job["command"] and c.get("args") == job.get("args"), f"{where}: command/args")
            expect(c.get("env", []) == expected_env(project, app, dbs, job.get("env")), f"{where}: env {c.get('env')}")
            expect(c.get("envFrom") == ([{"secretRef": {"name": f"{project}-{a}-secret"}}] if app.get("secrets") else None),
                   f"{where}: envFrom")
            expect(c.get("resources", {}) == expected_resources(job.get("resources"), app.get("resources"), settings),
                   f"{where}: resources {c.get('resources')}")
            expect(pod.get("imagePullSecrets") == ([{"name": pull}] if pull else None), f"{where}: imagePullSecrets")
            expect(c.get("volumeMounts", []) == tmp_mount(app) and pod.get("volumes", []) == tmp_volume(app),
                   f"{where}: volumes in a job beyond /tmp")
            expect("ports" not in c, f"{where}: ports in a job")

    used = {name for app in apps for name, _ in uses_of(app)}
    for db in data.get("databases") or []:
        out += _database_problems(docs, project, db, db["name"] in used)
    return out


ADMIN_ENV = {"postgres": "POSTGRES_PASSWORD", "mysql": "MYSQL_ROOT_PASSWORD", "mongodb": "MONGO_INITDB_ROOT_PASSWORD"}


def _database_problems(docs, project, db, used) -> list[str]:
    out = []
    name, type_, managed = db["name"], db["type"], "user" in db
    where = f"database {name}"
    secret = find(docs, "Secret", f"{project}-{name}-secret")
    sts = find(docs, "StatefulSet", f"{project}-{name}-db")
    if secret is None or sts is None:
        return [f"{where}: Secret or StatefulSet missing"]
    keys = set(secret["stringData"])
    want_keys = {"password"} | ({"admin-password"} if managed else set()) | ({"url"} if used else set())
    if keys != want_keys:
        out.append(f"{where}: Secret keys {sorted(keys)}, expected {sorted(want_keys)}")
    c = container(sts)
    env = env_of(c)
    values = {k: e.get("value") for k, e in env.items()}
    refs = {k: secret_ref(e) for k, e in env.items() if "valueFrom" in e}
    sec = f"{project}-{name}-secret"
    user, dbname = db_user_and_name(db)
    init = find(docs, "ConfigMap", f"{project}-{name}-init")
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
    init_volume = next((v for v in pod_template(sts)["spec"].get("volumes") or [] if "configMap" in v), None)
    if type_ != "redis":
        # the administrator's password: its own key when managed, else the one password
        if refs.get(ADMIN_ENV[type_]) != (sec, "admin-password" if managed else "password"):
            out.append(f"{where}: {ADMIN_ENV[type_]} from {refs.get(ADMIN_ENV[type_])}")
    if type_ == "postgres":
        if managed:
            if "POSTGRES_USER" in env or "POSTGRES_DB" in env:
                out.append(f"{where}: POSTGRES_USER/POSTGRES_DB would make the application user a superuser")
            created = (values.get("APP_DB_USER"), values.get("APP_DB_NAME"), refs.get("APP_DB_PASSWORD"))
        else:
            created = (values.get("POSTGRES_USER"), values.get("POSTGRES_DB"), refs.get("POSTGRES_PASSWORD"))
    elif type_ == "mysql":
        created = (values.get("MYSQL_USER"), values.get("MYSQL_DATABASE"), refs.get("MYSQL_PASSWORD"))
    elif type_ == "mongodb":
        root = values.get("MONGO_INITDB_ROOT_USERNAME")
        if managed:
            if root != "root":
                out.append(f"{where}: managed MongoDB's administrator is {root!r}")
            created = (values.get("APP_DB_USER"), values.get("APP_DB_NAME"), refs.get("APP_DB_PASSWORD"))
        else:
            created = (root, values.get("MONGO_INITDB_DATABASE"), refs.get("MONGO_INITDB_ROOT_PASSWORD"))
    else:
        created = ("default", None, refs.get("REDIS_PASSWORD"))
        user, dbname = "default", None
    # the application connects as the user the database creates, to the database it creates
    if created != (user, dbname, (sec, "password")):
        out.append(f"{where}: creates {created}, applications connect as {(user, dbname, (sec, 'password'))}")
    wants_init = managed and type_ in ("postgres", "mongodb")
    if (init is not None) != wants_init:
        out.append(f"{where}: init ConfigMap rendered={init is not None}, expected {wants_init}")
    if wants_init and init is not None:
        script = "app-user.sh" if type_ == "postgres" else "app-user.js"
        if set(init["data"]) != {script}:
            out.append(f"{where}: init ConfigMap keys {sorted(init['data'])}")
        if init_volume is None or init_volume["configMap"]["name"] != init["metadata"]["name"] \
                or mounts.get("/docker-entrypoint-initdb.d") != init_volume["name"]:
            out.append(f"{where}: init ConfigMap is not mounted at /docker-entrypoint-initdb.d")
        for var in ("APP_DB_USER", "APP_DB_NAME", "APP_DB_PASSWORD"):
            if var not in init["data"][script]:
                out.append(f"{where}: the init script does not read {var}")
    elif init_volume is not None or "/docker-entrypoint-initdb.d" in mounts:
        out.append(f"{where}: an init volume without a managed user")
    if used:
        url = secret["stringData"]["url"]
        scheme = {"postgres": "postgresql", "mysql": "mysql", "mongodb": "mongodb", "redis": "redis"}[type_]
        password = f"<path:kv/data/{project}/databases/{name}#password | urlencode>"
        want = (f"redis://:{password}@{name}:{db['port']}/0" if type_ == "redis" else
                f"{scheme}://{user}:{password}@{name}:{db['port']}/{dbname}")
        if type_ == "mongodb":
            want += f"?authSource={dbname if managed else 'admin'}"
        if url != want:
            out.append(f"{where}: url {url!r}, expected {want!r}")
    return out


# --------------------------------------------------------------------------- the tests

@pytest.mark.parametrize("case", ALL, ids=IDS)
def test_integrity(case, tmp_path_factory):
    docs = rendered(case, tmp_path_factory)
    assert integrity_problems(docs, case[2]) == []
    assert [p for d in docs for p in name_problems(d)] == []


@pytest.mark.parametrize("case", ALL, ids=IDS)
def test_every_object_validates(case, tmp_path_factory):
    require_shared()
    assert all_object_errors(rendered(case, tmp_path_factory)) == []


@pytest.mark.parametrize("case", ALL, ids=IDS)
def test_what_the_documentation_promises(case, tmp_path_factory):
    ident, project, data, env = case
    assert oracle_problems(rendered(case, tmp_path_factory), project, data, env) == []


def _break_pod(doc):
    pod_template(doc)["spec"]["containers"][0]["imagePullPolicy"] = 3


def _break_cronjob(doc):
    doc["spec"]["concurrency"] = doc["spec"].pop("concurrencyPolicy")


def _break_hpa(doc):
    doc["spec"]["metrics"][0]["resource"]["target"]["averageUtilisation"] = 80


def _break_pdb(doc):
    doc["spec"]["maxUnavailable"] = [1]


def _break_pvc(doc):
    doc["spec"]["accessMode"] = doc["spec"].pop("accessModes")


def _break_config_map(doc):
    doc["data"] = {"app-user.sh": 1}


BROKEN = [("Job", _break_pod), ("CronJob", _break_pod), ("CronJob", _break_cronjob),
          ("HorizontalPodAutoscaler", _break_hpa), ("PodDisruptionBudget", _break_pdb),
          ("PersistentVolumeClaim", _break_pvc), ("ConfigMap", _break_config_map)]


@pytest.mark.parametrize("kind, breaker", BROKEN, ids=[f"{k}-{b.__name__[7:]}" for k, b in BROKEN])
def test_the_schema_validators_reject_broken_new_kinds(kind, breaker, tmp_path_factory):
    """kubernetes-validate (strict) really checks the new kinds: a broken copy of each is rejected."""
    docs = [d for case in ALL for d in rendered(case, tmp_path_factory) if d["kind"] == kind]
    doc = copy.deepcopy(docs[0])
    assert object_errors(doc) == []
    breaker(doc)
    assert object_errors(doc), f"{kind} broken by {breaker.__name__} still validates"


def test_the_variants_cover_every_new_kind(tmp_path_factory):
    kinds = {d["kind"] for case in ALL for d in rendered(case, tmp_path_factory)}
    assert {"Job", "CronJob", "HorizontalPodAutoscaler", "PodDisruptionBudget", "PersistentVolumeClaim",
            "ConfigMap"} <= kinds


# Specific promises, spelled out on one variant each (the oracle above checks them all generally).

def _case(ident):
    return next(c for c in ALL if c[0] == ident)


def test_blog_example(tmp_path_factory):
    if not (EXAMPLES / "blog.yaml").is_file():
        pytest.skip("examples/projects/blog.yaml not present")
    docs = rendered(_case("example-blog"), tmp_path_factory)
    migrate = get(docs, "Job", "web-migrate")
    assert migrate["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "Sync"
    assert migrate["metadata"]["annotations"]["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    assert migrate["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "1"
    for name in ("web-app", "web-worker", "web-beat"):
        assert get(docs, "Deployment", name)["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "2"
    cron = get(docs, "CronJob", "web-clearsessions")["spec"]
    assert (cron["schedule"], cron["timeZone"], cron["concurrencyPolicy"]) == ("0 4 * * *", "Europe/Berlin", "Forbid")
    assert cron["successfulJobsHistoryLimit"] <= 3 and cron["failedJobsHistoryLimit"] <= 3
    # the worker inherits the app's CPU request and names its own memory
    assert container(get(docs, "Deployment", "web-worker"))["resources"] == {
        "requests": {"cpu": "250m", "memory": "768Mi"}, "limits": {"memory": "768Mi"}}
    # beat and worker have no port: no Service, no probes, no preStop
    beat = container(get(docs, "Deployment", "web-beat"))
    assert find(docs, "Service", "web-beat") is None and find(docs, "Service", "web-worker") is None
    assert not any(k.endswith("Probe") for k in beat) and "ports" not in beat and "lifecycle" not in beat
    assert get(docs, "Deployment", "web-beat")["spec"]["strategy"] == {"type": "Recreate"}
    # two replicas: a PodDisruptionBudget each; beat (one) has none
    assert find(docs, "PodDisruptionBudget", "web-app") and find(docs, "PodDisruptionBudget", "web-worker")
    assert find(docs, "PodDisruptionBudget", "web-beat") is None
    env = env_of(container(get(docs, "Deployment", "web-app")))
    assert env["DATABASE_HOST"]["value"] == "db" and env["DATABASE_USER"]["value"] == "blog"
    assert secret_ref(env["DATABASE_URL"]) == ("blog-db-secret", "url")
    assert secret_ref(env["CELERY_BROKER_URL"]) == ("blog-broker-secret", "url")
    sts = container(get(docs, "StatefulSet", "blog-db-db"))
    assert "POSTGRES_USER" not in env_of(sts)
    assert {m["mountPath"] for m in sts["volumeMounts"]} >= {"/docker-entrypoint-initdb.d"}


def test_worker_without_port_has_no_service_and_no_probes(tmp_path_factory):
    docs = rendered(_case("worker-only"), tmp_path_factory)
    c = container(get(docs, "Deployment", "consumer-app"))
    assert [d for d in docs if d["kind"] == "Service"] == []
    assert [d for d in docs if d["kind"] == "IngressRoute"] == [get(docs, "IngressRoute", "mail-consumer-webhook-route")]
    assert not any(k.endswith("Probe") for k in c) and "ports" not in c and "lifecycle" not in c
    assert c["args"] == ["--queue", "$(QUEUE_NAME)"]
    assert get(docs, "PodDisruptionBudget", "consumer-app")["spec"]["maxUnavailable"] == 1
    exec_only = container(get(rendered(_case("worker-exec-health"), tmp_path_factory), "Deployment", "consumer-app"))
    assert exec_only["readinessProbe"]["exec"] == {"command": ["/app/consumer", "check"]}


def test_image_app_has_no_ci_objects(tmp_path_factory):
    docs = rendered(_case("image-cron"), tmp_path_factory)
    kinds = {d["kind"] for d in docs}
    assert not kinds & {"EventSource", "Sensor", "WorkflowTemplate", "EventBus", "ServiceAccount", "Role", "RoleBinding"}
    assert find(docs, "Secret", "flow-github-access-secret") is None and find(docs, "Secret", "registry-secret") is None
    assert [r["metadata"]["name"] for r in docs if r["kind"] == "IngressRoute"] == ["flow-flower-flower-example-com-route"]
    dep = get(docs, "Deployment", "flower-app")
    assert container(dep)["image"] == "mher/flower:2.0" and "imagePullSecrets" not in pod_template(dep)["spec"]
    purge = get(docs, "CronJob", "flower-purge")
    assert purge["spec"]["timeZone"] == "Europe/Berlin" and purge["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 600
    assert container(purge)["image"] == "mher/flower:2.0"
    assert "timeZone" not in get(docs, "CronJob", "flower-weekly")["spec"]


def test_autoscale_renders_an_hpa_and_no_replicas(tmp_path_factory):
    docs = rendered(_case("autoscale"), tmp_path_factory)
    for name in ("api-app", "api-worker", "api-single"):
        assert "replicas" not in get(docs, "Deployment", name)["spec"]
        assert get(docs, "HorizontalPodAutoscaler", name)["spec"]["scaleTargetRef"]["name"] == name
    assert get(docs, "HorizontalPodAutoscaler", "api-app")["spec"]["minReplicas"] == 2
    assert find(docs, "PodDisruptionBudget", "api-single") is None  # max 1: never more than one pod
    assert get(docs, "Deployment", "api-pinned")["spec"]["replicas"] == 1
    assert find(docs, "HorizontalPodAutoscaler", "api-pinned") is None
    single = container(get(docs, "Deployment", "api-single"))["resources"]
    assert single == {"requests": {"cpu": "1", "memory": "256Mi"}, "limits": {"memory": "256Mi"}}
    defaults = rendered(_case("autoscale-default-cpu-request"), tmp_path_factory)
    assert container(get(defaults, "Deployment", "api-app"))["resources"] == {
        "requests": {"cpu": "50m", "memory": "96Mi"}, "limits": {"memory": "96Mi"}}


def test_volumes_are_claims_mounted_in_the_main_container(tmp_path_factory):
    docs = rendered(_case("volumes"), tmp_path_factory)
    dep = get(docs, "Deployment", "cms-app")
    assert dep["spec"]["strategy"] == {"type": "Recreate"} and dep["spec"]["replicas"] == 1
    assert [m["mountPath"] for m in container(dep)["volumeMounts"]] == ["/var/lib/ghost/content", "/cache"]
    assert "volumeMounts" not in container(get(docs, "Deployment", "cms-indexer"))
    assert "volumeMounts" not in container(get(docs, "CronJob", "cms-backup"))
    assert get(docs, "PersistentVolumeClaim", "cms-cache")["spec"]["resources"]["requests"]["storage"] == "512Mi"
    assert "storageClassName" not in get(docs, "PersistentVolumeClaim", "cms-content")["spec"]
    fast = rendered(_case("volumes-storage-class"), tmp_path_factory)
    assert get(fast, "PersistentVolumeClaim", "cms-content")["spec"]["storageClassName"] == "fast-ssd"


def test_processes_with_a_port_get_a_service(tmp_path_factory):
    docs = rendered(_case("processes-with-port"), tmp_path_factory)
    services = {d["metadata"]["name"]: d["spec"]["selector"] for d in docs if d["kind"] == "Service"}
    assert services == {"web": {"app": "web-app"}, "web-grpc": {"app": "web-grpc"}, "web-metrics": {"app": "web-metrics"},
                        "web-admin": {"app": "web-admin"}, "web-quiet": {"app": "web-quiet"}}
    grpc = container(get(docs, "Deployment", "web-grpc"))
    assert grpc["readinessProbe"]["grpc"] == {"port": 9090} and grpc["name"] == "grpc"
    assert [e["value"] for e in grpc["env"] if e["name"] == "MODE"] == ["grpc"]  # replaced in place, not appended
    assert [e["name"] for e in grpc["env"]] == ["MODE", "SHARED"]
    worker = container(get(docs, "Deployment", "web-worker"))
    assert [e["name"] for e in worker["env"]] == ["MODE", "SHARED", "EXTRA"] and "command" in worker
    metrics = container(get(docs, "Deployment", "web-metrics"))
    assert "command" not in metrics  # a process does not inherit the app's command
    assert metrics["resources"] == {"requests": {"cpu": "200m", "memory": "64Mi"}, "limits": {"memory": "64Mi"}}
    assert not any(k.endswith("Probe") for k in container(get(docs, "Deployment", "web-quiet")))
    assert get(docs, "Deployment", "web-admin")["spec"]["strategy"] == {"type": "Recreate"}


def test_jobs_are_hooks_and_crons(tmp_path_factory):
    docs = rendered(_case("jobs"), tmp_path_factory)
    for name in ("api-migrate", "api-seed"):
        annotations = get(docs, "Job", name)["metadata"]["annotations"]
        assert annotations["argocd.argoproj.io/hook"] == "Sync"
        assert annotations["argocd.argoproj.io/sync-wave"] == "1"
    assert get(docs, "Job", "api-migrate")["spec"]["activeDeadlineSeconds"] == 900
    for name in ("api-app", "api-worker"):
        assert get(docs, "Deployment", name)["metadata"]["annotations"] == {"argocd.argoproj.io/sync-wave": "2"}
    assert "annotations" not in get(docs, "Deployment", "other-app")["metadata"]  # no hooks: wave 0
    seed = container(get(docs, "Job", "api-seed"))
    assert [(e["name"], e["value"]) for e in seed["env"]] == [("X", "job")]
    assert seed["resources"] == {"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}
    assert seed["envFrom"] == [{"secretRef": {"name": "jobs-api-secret"}}]
    report = get(docs, "CronJob", "api-report")
    assert report["spec"]["concurrencyPolicy"] == "Forbid"
    assert pod_template(report)["spec"]["imagePullSecrets"] == [{"name": "registry-secret"}]
    # an app without a hash deploys nothing, its jobs included
    assert find(docs, "Job", "unbuilt-migrate") is None and find(docs, "Deployment", "unbuilt-app") is None


def test_uses_wires_each_database_type(tmp_path_factory):
    docs = rendered(_case("uses-each-type"), tmp_path_factory)
    env = env_of(container(get(docs, "Deployment", "api-app")))
    assert [n for n in env][:6] == ["ORDERS_HOST", "ORDERS_PORT", "ORDERS_USER", "ORDERS_NAME", "ORDERS_PASSWORD",
                                    "ORDERS_URL"]
    assert (env["ORDERS_HOST"]["value"], env["ORDERS_PORT"]["value"]) == ("orders", "13306")
    assert (env["CATALOG_USER"]["value"], env["CATALOG_NAME"]["value"]) == ("catalog_user", "catalog_db")
    assert env["REDIS_USER"]["value"] == "default" and "REDIS_NAME" not in env
    assert secret_ref(env["MONGO_PASSWORD"]) == ("wire-events-secret", "password")
    assert secret_ref(env["MONGO_URL"]) == ("wire-events-secret", "url")
    assert list(env)[-1] == "DSN_HINT"  # after the variables it refers to, so $(ORDERS_HOST) expands
    tool = env_of(container(get(docs, "Deployment", "tool-app")))
    assert tool["MY_CACHE_HOST"]["value"] == "my-cache" and tool["DB_PORT"]["value"] == "13306"
    assert "url" not in get(docs, "Secret", "wire-unused-secret")["stringData"]  # unused: no URL to build
    for entry in list(env.values()) + list(tool.values()):
        if entry["name"].endswith(("_PASSWORD", "_URL")):
            assert "value" not in entry and "secretKeyRef" in entry["valueFrom"]


def test_managed_databases(tmp_path_factory):
    docs = rendered(_case("managed-databases"), tmp_path_factory)
    pg = env_of(container(get(docs, "StatefulSet", "mgd-pg-db")))
    assert "POSTGRES_USER" not in pg and secret_ref(pg["POSTGRES_PASSWORD"]) == ("mgd-pg-secret", "admin-password")
    assert (pg["APP_DB_USER"]["value"], pg["APP_DB_NAME"]["value"]) == ("shop", "shop")
    assert get(docs, "ConfigMap", "mgd-pg-init")["data"].keys() == {"app-user.sh"}
    my = env_of(container(get(docs, "StatefulSet", "mgd-my-db")))
    assert secret_ref(my["MYSQL_ROOT_PASSWORD"]) == ("mgd-my-secret", "admin-password")
    assert secret_ref(my["MYSQL_PASSWORD"]) == ("mgd-my-secret", "password")
    assert (my["MYSQL_USER"]["value"], my["MYSQL_DATABASE"]["value"]) == ("shop_user", "shop_db")
    assert find(docs, "ConfigMap", "mgd-my-init") is None
    mongo = env_of(container(get(docs, "StatefulSet", "mgd-mongo-db")))
    assert mongo["MONGO_INITDB_ROOT_USERNAME"]["value"] == "root"
    assert secret_ref(mongo["MONGO_INITDB_ROOT_PASSWORD"]) == ("mgd-mongo-secret", "admin-password")
    assert get(docs, "Secret", "mgd-mongo-secret")["stringData"]["url"].endswith("@mongo:27017/catalog?authSource=catalog")
    api = env_of(container(get(docs, "Deployment", "api-app")))
    assert (api["DATABASE_USER"]["value"], api["MY_USER"]["value"], api["MONGO_USER"]["value"]) == ("shop", "shop_user",
                                                                                                      "catalog")
    plain = env_of(container(get(docs, "StatefulSet", "mgd-plainpg-db")))
    assert plain["POSTGRES_USER"]["value"] == "plainpg_user"
    assert set(get(docs, "Secret", "mgd-plainpg-secret")["stringData"]) == {"password"}


def test_prebuilt_image_from_the_platform_registry_uses_its_pull_secret(tmp_path_factory):
    docs = rendered(_case("registry-image"), tmp_path_factory)
    assert pod_template(get(docs, "Deployment", "tool-app"))["spec"]["imagePullSecrets"] == [{"name": "registry-secret"}]
    assert "imagePullSecrets" not in pod_template(get(docs, "Deployment", "pub-app"))["spec"]
    assert get(docs, "Secret", "registry-secret")["type"] == "kubernetes.io/dockerconfigjson"
    assert find(docs, "Secret", "reg-github-access-secret") is None
    only = rendered(_case("image-only"), tmp_path_factory)
    assert {d["kind"] for d in only} == {"Secret", "Deployment", "Service", "IngressRoute", "PodDisruptionBudget",
                                         "NetworkPolicy", "ResourceQuota", "LimitRange"}
    assert [d["metadata"]["name"] for d in only if d["kind"] == "Secret"] == ["pub-docs-secret"]


# --------------------------------------------------------------------------- the checker can fail

def _mutations():
    def pod(docs, kind, name):
        return pod_template(get(docs, kind, name))["spec"]

    def drop(kind, name):
        def mutate(docs):
            docs.remove(get(docs, kind, name))
        return mutate

    def job_secret_key(docs):
        container(get(docs, "Job", "api-migrate"))["env"] = [
            {"name": "X", "valueFrom": {"secretKeyRef": {"name": "all-db-secret", "key": "root-password"}}}]

    def cron_env_from(docs):
        container(get(docs, "CronJob", "api-report"))["envFrom"] = [{"secretRef": {"name": "all-other-secret"}}]

    def cron_pull_secret(docs):
        pod(docs, "CronJob", "api-report")["imagePullSecrets"] = [{"name": "regcred"}]

    def job_restart_always(docs):
        pod(docs, "Job", "api-migrate")["restartPolicy"] = "Always"

    def hpa_target(docs):
        get(docs, "HorizontalPodAutoscaler", "api-app")["spec"]["scaleTargetRef"]["name"] = "api"

    def hpa_and_replicas(docs):
        get(docs, "Deployment", "api-app")["spec"]["replicas"] = 2

    def hpa_no_cpu_request(docs):
        del container(get(docs, "Deployment", "api-app"))["resources"]["requests"]["cpu"]

    def pdb_selects_nothing(docs):
        get(docs, "PodDisruptionBudget", "api-app")["spec"]["selector"]["matchLabels"] = {"app": "api"}

    def pdb_selects_a_job(docs):
        get(docs, "PodDisruptionBudget", "api-app")["spec"]["selector"]["matchLabels"] = {"app": "api-migrate"}

    def cron_pods_look_like_the_app(docs):
        pod_template(get(docs, "CronJob", "api-report"))["metadata"]["labels"] = {"app": "api-app"}

    def claim_name(docs):
        pod(docs, "Deployment", "files-app")["volumes"][0]["persistentVolumeClaim"]["claimName"] = "files-other"

    def claim_with_replicas(docs):
        get(docs, "Deployment", "files-app")["spec"]["replicas"] = 2

    def claim_rolling(docs):
        get(docs, "Deployment", "files-app")["spec"]["strategy"] = {"type": "RollingUpdate"}

    def claim_twice(docs):
        pod(docs, "Deployment", "files-worker")["volumes"] = copy.deepcopy(pod(docs, "Deployment", "files-app")["volumes"])

    def init_config_map_name(docs):
        for v in pod(docs, "StatefulSet", "all-db-db")["volumes"]:
            v["configMap"]["name"] = "all-db-init-old"

    def prebuilt_image_changed(docs):
        container(get(docs, "Deployment", "files-app"))["image"] = "ghost:5.91"

    def built_image_wrong_hash(docs):
        container(get(docs, "CronJob", "api-report"))["image"] = f"{REGISTRY}/{REGISTRY_PROJECT}/all-api:{HASH_B}"

    return [
        ("job-secret-key", job_secret_key, "reference"), ("cron-envfrom", cron_env_from, "reference"),
        ("cron-pull-secret", cron_pull_secret, "reference"), ("job-restart-always", job_restart_always, None),
        ("hpa-target", hpa_target, "reference"), ("hpa-and-replicas", hpa_and_replicas, None),
        ("hpa-no-cpu-request", hpa_no_cpu_request, None), ("pdb-selects-nothing", pdb_selects_nothing, "selector"),
        ("pdb-selects-a-job", pdb_selects_a_job, None), ("cron-pods-like-app", cron_pods_look_like_the_app, "selector"),
        ("missing-pvc", drop("PersistentVolumeClaim", "files-data"), "reference"), ("claim-name", claim_name, "reference"),
        ("claim-replicas", claim_with_replicas, None), ("claim-rolling", claim_rolling, None),
        ("claim-twice", claim_twice, None), ("missing-init-configmap", drop("ConfigMap", "all-db-init"), "reference"),
        ("init-configmap-name", init_config_map_name, "reference"), ("prebuilt-image", prebuilt_image_changed, None),
        ("built-image-hash", built_image_wrong_hash, None),
    ]


MUTATION_PROJECT = {"applications": [
    {"name": "api", "git": git("api"), "port": 80, "secrets": ["K"], "uses": ["db"], "resources": {"cpu": "100m"},
     "autoscale": {"min": 2, "max": 4},
     "jobs": [{"name": "migrate", "command": ["m"], "before": "deploy"}, {"name": "report", "command": ["r"], "schedule": "@daily"}]},
    {"name": "files", "image": "ghost:5.90", "port": 2368, "volumes": [{"name": "data", "path": "/data", "size": "1Gi"}],
     "processes": [{"name": "worker", "command": ["w"]}]}],
    "databases": [database("db", "postgres", database="app", user="app")]}
MUTATIONS = _mutations()


@pytest.fixture(scope="module")
def mutation_base(tmp_path_factory):
    docs = rendered(("mutation-base", "all", MUTATION_PROJECT, {}), tmp_path_factory)
    assert integrity_problems(docs, MUTATION_PROJECT) == []
    return docs


@pytest.mark.parametrize("ident, mutate, rule", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_the_independent_checker_catches(ident, mutate, rule, mutation_base):
    docs = copy.deepcopy(mutation_base)
    mutate(docs)
    assert integrity_problems(docs, MUTATION_PROJECT), f"{ident}: the independent checker missed it"
    if rule is not None:  # a broken reference or selector: cmp_plugin.check refuses it too
        problems = check(docs, vault_prefix="kv/data/all", resolved=False)
        assert rule in {p.rule for p in problems}, [p.format() for p in problems]


def test_without_project_data_prebuilt_images_are_not_trusted(mutation_base):
    problems = integrity_problems(mutation_base)
    assert problems and all("ghost:5.90" in p for p in problems), problems


def test_load_project_and_render_documents_agree_with_render_file(tmp_path):
    """render_documents (no check, no emit) gives the same objects as the printed output."""
    ident, name, data, env = _case("jobs")
    path = write_project(tmp_path, name, yaml.safe_dump(data))
    settings = settings_for(env)
    docs = render_documents(load_project(str(path), settings=settings), settings)
    printed = docs_of(render_file(str(path), settings=settings, env={}))
    assert sorted(map(repr, docs)) == sorted(map(repr, printed))


# --------------------------------------------------------------------------- rules that once were gaps

def test_image_app_is_not_held_to_ci_name_limits(tmp_path):
    # built from git, eventbus-<project>-ci-bus-js (53) and <project>-<app>-build-workflow- (63) are too long
    project = "a" * 34
    text = yaml.safe_dump({"applications": [{"name": "web-frontend", "image": "nginx:1.27", "port": 80}]})
    git = text.replace("image: nginx:1.27", "git: {owner: o, repo: r, branch: main}")
    assert {p.rule for p in validate_text(git, f"{project}.yaml")} == {"name-length"}
    assert [p.format() for p in validate_text(text, f"{project}.yaml")] == []
    docs = docs_of(render_file(str(write_project(tmp_path, project, text)), settings=settings_for({}), env={}))
    assert not {d["kind"] for d in docs} & {"EventSource", "Sensor", "WorkflowTemplate"}


def test_before_deploy_job_name_is_held_to_the_job_limit(tmp_path):
    job = "migrate-the-database-schema-and-load-the-fixtures-x"  # web-<job> is 55 characters
    data = {"applications": [{"name": "web", "image": "nginx:1.27", "jobs": [{"name": job, "command": ["m"], "before": "deploy"}]}]}
    text = yaml.safe_dump(data)
    assert [p.format() for p in validate_text(text, "shop.yaml")] == []
    docs = docs_of(render_file(str(write_project(tmp_path, "shop", text)), settings=settings_for({}), env={}))
    assert [p for d in docs for p in name_problems(d)] == []


def test_rolling_update_with_a_volume_is_refused():
    data = {"applications": [{"name": "cms", "image": "ghost:5.90", "port": 2368, "strategy": "RollingUpdate",
                              "volumes": [{"name": "content", "path": "/content", "size": "5Gi"}]}]}
    assert validate_text(yaml.safe_dump(data), "files.yaml")


AUTOSCALE_WITHOUT_CPU = """\
applications:
  - name: web
    image: nginx:1.27
    port: 80
    resources: {memory: 256Mi}
    autoscale: {max: 5}
    processes:
      - name: worker
        autoscale: {max: 3}
"""


def test_autoscale_needs_a_cpu_request_from_the_app_or_the_platform():
    assert validate_text(AUTOSCALE_WITHOUT_CPU, "p.yaml", settings=settings_for({})) == []  # the default request
    problems = validate_text(AUTOSCALE_WITHOUT_CPU, "p.yaml", settings=settings_for({"CMP_DEFAULT_CPU_REQUEST": ""}))
    assert [p.format() for p in problems] == [
        "p.yaml:6:16: error: applications[0].autoscale: autoscale on CPU needs a CPU request: set resources.cpu",
        "p.yaml:9:20: error: applications[0].processes[0].autoscale: autoscale on CPU needs a CPU request: set resources.cpu",
    ]
