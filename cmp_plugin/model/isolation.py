"""A project's isolation as plain data for templates/project/: NetworkPolicies, ResourceQuota
and LimitRange (docs/isolation.md).

Which pods are "application and database pods": every pod template the renderer writes carries
an `app` label; the pods Argo creates for a project do not, and carry labels of their own that
ours never do (Argo Workflows: `workflows.argoproj.io/workflow` on every workflow pod; Argo
Events: `eventsource-name`, `sensor-name`, `eventbus-name`). The selector asks for both, so a
CI pod stays out even if a template ever gave it an `app` label.
"""

from __future__ import annotations

from collections import namedtuple

from cmp_plugin.settings import Settings

ARGO_POD_LABELS = ("workflows.argoproj.io/workflow", "eventsource-name", "sensor-name", "eventbus-name")
WORKLOAD_SELECTOR = {"matchExpressions": [{"key": "app", "operator": "Exists"}]
                     + [{"key": key, "operator": "DoesNotExist"} for key in ARGO_POD_LABELS]}

# name: the NetworkPolicy; pod_label: the workload's `app` label; port: its container port.
Exposed = namedtuple("Exposed", "name pod_label port")

# network_policies False renders none of them; quota and limit_range are {} for none.
Isolation = namedtuple("Isolation", "network_policies ingress_namespace exposed webhook_sources webhook_port "
                                    "restrict_egress workload_selector quota limit_range")


def build(project, settings: Settings) -> Isolation:
    exposed = tuple(Exposed(f"allow-ingress-{w.names['pod_label']}", w.names["pod_label"], w.port)
                    for app in project.deployed_apps for w in app.workloads if w.port)
    return Isolation(
        network_policies=settings.network_policies, ingress_namespace=settings.ingress_namespace,
        exposed=exposed, webhook_sources=(project.names["eventsource"],) if project.built_apps else (),
        webhook_port=project.webhook_port, restrict_egress=settings.restrict_egress,
        workload_selector=WORKLOAD_SELECTOR,
        quota=settings.quota_for(project.name), limit_range=_limit_range(settings.limit_range_for(project.name)))


def _limit_range(values: dict) -> dict:
    """`defaultRequest.cpu: 50m` -> {"defaultRequest": {"cpu": "50m"}}: the LimitRange item's fields."""
    out: dict = {}
    for key, value in values.items():
        field, _, resource = key.partition(".")
        out.setdefault(field, {})[resource] = value
    return out
