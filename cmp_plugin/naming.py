"""Every Kubernetes name derived from a project, in one place.

The validator checks these against Kubernetes' limits and the templates use them, so a
name that passes validation is exactly the name that is rendered.
"""

from __future__ import annotations

import re

LABEL = 63  # RFC 1123 label: namespaces, Services, label values, container and volume names
SUBDOMAIN = 253  # RFC 1123 subdomain: most other object names
STATEFULSET = 52  # the controller adds "-<10-char hash>" to a label value of at most 63


def domain_slug(domain: str) -> str:
    return domain.replace(".", "-")


def project_names(project: str) -> dict[str, str]:
    return {
        "namespace": project,
        # One EventBus, EventSource and Sensor per project, whatever the number of applications.
        # The EventBus is not the NATS Streaming bus's "<project>-ci-eventbus": Argo Events refuses to
        # change an EventBus's implementation in place, so the JetStream one is a new object.
        "eventbus": f"{project}-ci-bus",
        # what Argo Events' controller names the JetStream StatefulSet and Service of that EventBus
        "eventbus_statefulset": f"eventbus-{project}-ci-bus-js",
        "eventbus_service": f"eventbus-{project}-ci-bus-js-svc",
        "eventsource": f"{project}-ci-github",
        "eventsource_service": f"{project}-ci-github-eventsource-svc",  # Argo Events: "<eventsource>-eventsource-svc"
        "sensor": f"{project}-ci-github-sensor",
        "ci_service_account": f"{project}-ci-workflow-sa",
        "ci_role": f"{project}-ci-workflow-role",
        "ci_role_binding": f"{project}-ci-workflow-rolebinding",
        "github_secret": f"{project}-github-access-secret",
        "registry_secret": "registry-secret",
        # operator modes: the ServiceAccount the operator logs in to Vault as, and its
        # SecretStore (external-secrets) or VaultAuth and VaultConnection (vault-secrets-operator)
        "secrets_service_account": f"{project}-secrets",
        "secret_store": f"{project}-vault",
    }


def app_names(project: str, app: str) -> dict[str, str]:
    base = f"{project}-{app}"
    return {
        "deployment": f"{app}-app",
        "pod_label": f"{app}-app",
        "container": f"{app}-app",
        "service": app,
        "secret": f"{base}-secret",
        # the app's GitHub webhook entry in the project's EventSource (also a JetStream subject token),
        # and its dependency and trigger in the project's Sensor
        "event": f"{base}-github-trigger",
        "dependency": f"{app}-push",
        "trigger": f"{app}-build",
        "workflow_template": f"{base}-build-workflow-template",
        "workflow_prefix": f"{base}-build-workflow-",
        "webhook_route": f"{base}-webhook-route",
        "webhook_path": f"/{base}",
        "image_name": base,
    }


def process_names(app: str, process: str) -> dict[str, str]:
    """A process of an app: its own Deployment (and Service when it has a port)."""
    base = f"{app}-{process}"
    return {"deployment": base, "pod_label": base, "container": process, "service": base}


def job_names(app: str, job: str) -> dict[str, str]:
    base = f"{app}-{job}"
    return {"job": base, "cronjob": base, "container": job}


def volume_names(app: str, volume: str) -> dict[str, str]:
    return {"claim": f"{app}-{volume}", "volume": volume}


def route_name(project: str, app: str, domain: str) -> str:
    return f"{project}-{app}-{domain_slug(domain)}-route"


def db_names(project: str, db: str) -> dict[str, str]:
    base = f"{project}-{db}"
    return {
        "statefulset": f"{base}-db",
        "pod_label": f"{base}-db",
        "service": db,
        "secret": f"{base}-secret",
        "volume": f"{base}-data",
        "container": db,
        "init": f"{base}-init",
    }


def backup_names(project: str, db: str) -> dict[str, str]:
    """A database's backup: a CronJob, its pods' label and the claim that keeps the dumps."""
    base = f"{project}-{db}-backup"
    return {"cronjob": base, "pod_label": base, "claim": base, "container": "backup", "volume": "backup"}


# (key, limit, what Kubernetes does with it); keys not listed are free text or checked elsewhere.
LIMITS_PROJECT = {"namespace": LABEL, "secrets_service_account": SUBDOMAIN, "secret_store": SUBDOMAIN}
# the project's CI objects, rendered when an application is built from git. The EventBus's
# StatefulSet is held to the StatefulSet limit (its pods' controller-revision-hash label).
LIMITS_PROJECT_CI = {"eventbus": LABEL, "eventbus_statefulset": STATEFULSET, "eventbus_service": LABEL,
                     "eventsource": LABEL, "eventsource_service": LABEL, "sensor": LABEL,
                     "ci_service_account": SUBDOMAIN, "ci_role": SUBDOMAIN, "ci_role_binding": SUBDOMAIN,
                     "github_secret": SUBDOMAIN}
LIMITS_APP = {"deployment": SUBDOMAIN, "pod_label": LABEL, "container": LABEL, "service": LABEL,
              "secret": SUBDOMAIN, "workflow_template": SUBDOMAIN,
              "workflow_prefix": LABEL - 5, "webhook_route": SUBDOMAIN}
LIMITS_DB = {"statefulset": STATEFULSET, "pod_label": LABEL, "service": LABEL, "secret": SUBDOMAIN,
             "volume": LABEL, "container": LABEL, "init": SUBDOMAIN}
# checked only for a database with `backup`: a project without one never renders these names
LIMITS_BACKUP = {"cronjob": STATEFULSET, "pod_label": LABEL, "claim": SUBDOMAIN}

# the names of an app's CI objects: a prebuilt image (`image:`) renders none of them
CI_APP_NAMES = ("event", "dependency", "trigger", "workflow_template", "workflow_prefix", "webhook_route",
                "webhook_path", "image_name")

LIMITS_PROCESS = {"deployment": SUBDOMAIN, "pod_label": LABEL, "container": LABEL, "service": LABEL}
# a Job's name is also its pods' job-name label; the CronJob controller appends "-<11 digits>"
LIMITS_JOB = {"job": LABEL, "cronjob": STATEFULSET, "container": LABEL}
LIMITS_VOLUME = {"claim": SUBDOMAIN, "volume": LABEL}

_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_label(name: str) -> bool:
    return len(name) <= LABEL and bool(_LABEL_RE.fullmatch(name))
