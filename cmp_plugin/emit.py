"""Stage 6, emit: objects -> multi-document YAML, byte-identical for the same input.

Order: by kind in the order Helm installs kinds (what a kind depends on comes first), then
by namespace and name. Keys keep template order; strings are ASCII-escaped by the dumper.
"""

from __future__ import annotations

import yaml

KIND_ORDER = (
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "ServiceAccount", "Secret", "ConfigMap", "PersistentVolumeClaim", "Role", "RoleBinding",
    "Service", "StatefulSet", "Deployment", "EventBus", "EventSource", "Sensor", "WorkflowTemplate",
    "IngressRoute",
)

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def sort_key(doc: dict) -> tuple:
    kind = doc["kind"]
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    meta = doc["metadata"]
    return (rank, kind, meta.get("namespace", ""), meta["name"])


def emit(docs: list[dict]) -> str:
    ordered = sorted(docs, key=sort_key)
    return yaml.dump_all(ordered, Dumper=_Dumper, sort_keys=False, explicit_start=True,
                         default_flow_style=False, allow_unicode=False, width=1_000_000)
