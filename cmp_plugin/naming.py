"""Every name derived from a project, in one table: its pattern, its kind and so its length limit,
and the objects it names.

The templates place these names, validation checks their lengths and clashes by walking the
same table, so a name that passes validation is exactly the name that is rendered.
"""

from __future__ import annotations

import os
import re
from collections import namedtuple

LABEL = 63  # RFC 1123 label: namespaces, Services, label values, container and volume names
SUBDOMAIN = 253  # RFC 1123 subdomain: most other object names
STATEFULSET = 52  # the controller adds "-<10-char hash>" to a label value of at most 63

# What Kubernetes does with a name, and so its limit. A kind of None is not a Kubernetes name
# (a URL path, an image name, an entry inside an object) or cannot be too long.
LIMITS = {
    "DNS label": LABEL,
    "DNS subdomain": SUBDOMAIN,
    # a StatefulSet's pods get a controller-revision-hash label "<name>-<10-char hash>"; a
    # CronJob's Jobs are named "<name>-<11 digits>", and a Job's name is its pods' job-name label
    "StatefulSet or CronJob name": STATEFULSET,
    "generateName prefix": LABEL - 5,  # the API server appends 5 random characters
}

# key: the name's key in the dicts below (and in templates); pattern: str.format over the
# group's fields; kind: a key of LIMITS or None; objects: the kinds of object (or "pod label")
# it names, so that two sources cannot claim one object; when: the name exists only
# for "ci" (an app built from git, or a project with one), "backup" (a database with a backup),
# "once" (a job without a schedule) or "scheduled" (a job with one); None: always.
Name = namedtuple("Name", "key pattern kind objects when", defaults=((), None))

_L, _S, _SC, _P = "DNS label", "DNS subdomain", "StatefulSet or CronJob name", "generateName prefix"

TABLE: dict[str, tuple[Name, ...]] = {
    "project": (
        Name("namespace", "{project}", _L),
        Name("registry_secret", "registry-secret", None, ("Secret",)),
        # operator modes: the ServiceAccount the operator logs in to Vault as, and its
        # SecretStore (external-secrets) or VaultAuth and VaultConnection (vault-secrets-operator)
        Name("secrets_service_account", "{project}-secrets", _S),
        Name("secret_store", "{project}-vault", _S),
        # One EventBus, EventSource and Sensor per project, whatever the number of applications.
        # The EventBus is not the NATS Streaming bus's "<project>-ci-eventbus": Argo Events refuses
        # to change an EventBus's implementation in place, so the JetStream one is a new object.
        Name("eventbus", "{project}-ci-bus", _L, ("EventBus",), "ci"),
        # what Argo Events' controller names the JetStream StatefulSet and Service of that EventBus
        Name("eventbus_statefulset", "eventbus-{project}-ci-bus-js", _SC, ("StatefulSet",), "ci"),
        Name("eventbus_service", "eventbus-{project}-ci-bus-js-svc", _L, ("Service",), "ci"),
        Name("eventsource", "{project}-ci-github", _L, ("EventSource",), "ci"),
        # Argo Events: "<eventsource>-eventsource-svc"
        Name("eventsource_service", "{project}-ci-github-eventsource-svc", _L, ("Service",), "ci"),
        Name("sensor", "{project}-ci-github-sensor", _L, ("Sensor",), "ci"),
        Name("ci_service_account", "{project}-ci-workflow-sa", _S, ("ServiceAccount",), "ci"),
        Name("ci_role", "{project}-ci-workflow-role", _S, ("Role",), "ci"),
        Name("ci_role_binding", "{project}-ci-workflow-rolebinding", _S, ("RoleBinding",), "ci"),
        Name("github_secret", "{project}-github-access-secret", _S, ("Secret",), "ci"),
    ),
    "app": (
        Name("deployment", "{app}-app", _S, ("Deployment",)),
        Name("pod_label", "{app}-app", _L, ("pod label",)),
        Name("container", "{app}-app", _L),
        Name("service", "{app}", _L, ("Service",)),
        Name("secret", "{project}-{app}-secret", _S, ("Secret",)),
        # the app's GitHub webhook entry in the project's EventSource (also a JetStream subject
        # token), and its dependency and trigger in the project's Sensor
        Name("event", "{project}-{app}-github-trigger", None, (), "ci"),
        Name("dependency", "{app}-push", None, (), "ci"),
        Name("trigger", "{app}-build", None, (), "ci"),
        Name("workflow_template", "{project}-{app}-build-workflow-template", _S, ("WorkflowTemplate",), "ci"),
        Name("workflow_prefix", "{project}-{app}-build-workflow-", _P, (), "ci"),
        Name("webhook_route", "{project}-{app}-webhook-route", _S, ("IngressRoute",), "ci"),
        Name("webhook_path", "/{project}-{app}", None, (), "ci"),
        Name("image_name", "{project}-{app}", None, (), "ci"),
    ),
    # a process of an app: its own Deployment (and Service when it has a port)
    "process": (
        Name("deployment", "{app}-{process}", _S, ("Deployment",)),
        Name("pod_label", "{app}-{process}", _L, ("pod label",)),
        Name("container", "{process}", _L),
        Name("service", "{app}-{process}", _L, ("Service",)),
    ),
    # A job's name is claimed as both a Job and a CronJob, with a schedule or without one; its
    # length is held to the limit of the object it is rendered as.
    "job": (
        Name("job", "{app}-{job}", _L, ("Job", "pod label"), "once"),
        Name("cronjob", "{app}-{job}", _SC, ("CronJob",), "scheduled"),
        Name("container", "{job}", _L),
    ),
    "volume": (
        Name("claim", "{app}-{volume}", _S, ("PersistentVolumeClaim",)),
        Name("volume", "{volume}", _L),
    ),
    "route": (Name("route", "{project}-{app}-{slug}-route", _S, ("IngressRoute",)),),
    "db": (
        Name("statefulset", "{project}-{db}-db", _SC, ("StatefulSet",)),
        Name("pod_label", "{project}-{db}-db", _L, ("pod label",)),
        Name("service", "{db}", _L, ("Service",)),
        Name("secret", "{project}-{db}-secret", _S, ("Secret",)),
        Name("volume", "{project}-{db}-data", _L),
        Name("container", "{db}", _L),
        Name("init", "{project}-{db}-init", _S, ("ConfigMap",)),
    ),
    # a database's backup: a CronJob, its pods' label and the claim that keeps the dumps
    "backup": (
        Name("cronjob", "{project}-{db}-backup", _SC, ("CronJob",), "backup"),
        Name("pod_label", "{project}-{db}-backup", _L, ("pod label",), "backup"),
        Name("claim", "{project}-{db}-backup", _S, ("PersistentVolumeClaim",), "backup"),
        Name("container", "backup", None, (), "backup"),
        Name("volume", "backup", None, (), "backup"),
    ),
}


def _exists(entry: Name, facts) -> bool:
    return entry.when is None or entry.when in facts


def too_long(group: str, names: dict[str, str], facts=()) -> list[tuple[str, str, int]]:
    """(key, name, limit) of every name of `group` that exists given `facts` (see `when`) and is
    longer than its kind allows; `names` as derive() gives them."""
    return [(e.key, names[e.key], LIMITS[e.kind]) for e in TABLE[group]
            if e.kind and _exists(e, facts) and len(names[e.key]) > LIMITS[e.kind]]


def claims(group: str, names: dict[str, str], facts=()) -> list[tuple[str, str]]:
    """(object kind, name) of every object the names of `group` name, given `facts`."""
    return [(kind, names[e.key]) for e in TABLE[group] if _exists(e, facts) for kind in e.objects]


def derive(group: str, **fields: str) -> dict[str, str]:
    """Every name of one group, by key: derive("db", project="shop", db="orders")."""
    return {entry.key: entry.pattern.format(**fields) for entry in TABLE[group]}


def domain_slug(domain: str) -> str:
    return domain.replace(".", "-")


def project_names(project: str) -> dict[str, str]:
    return derive("project", project=project)


def app_names(project: str, app: str) -> dict[str, str]:
    return derive("app", project=project, app=app)


def process_names(app: str, process: str) -> dict[str, str]:
    return derive("process", app=app, process=process)


def job_names(app: str, job: str) -> dict[str, str]:
    return derive("job", app=app, job=job)


def volume_names(app: str, volume: str) -> dict[str, str]:
    return derive("volume", app=app, volume=volume)


def route_name(project: str, app: str, domain: str) -> str:
    return derive("route", project=project, app=app, slug=domain_slug(domain))["route"]


def db_names(project: str, db: str) -> dict[str, str]:
    return derive("db", project=project, db=db)


def backup_names(project: str, db: str) -> dict[str, str]:
    return derive("backup", project=project, db=db)


_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_label(name: str) -> bool:
    return len(name) <= LABEL and bool(_LABEL_RE.fullmatch(name))


def is_project_name(name: str) -> bool:
    """A project name is its namespace: an RFC 1123 label that starts with a letter."""
    return bool(name) and is_label(name) and name[0].isalpha()


def project_name(path: str) -> str:
    """The project is named after the file: projects/shop.yaml -> shop."""
    base = os.path.basename(path)
    for ext in (".yaml", ".yml"):
        if base.endswith(ext):
            return base[: -len(ext)]
    return base
