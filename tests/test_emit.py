"""Stage 6, emit, in-process: the documented order, and byte for byte what PyYAML's CSafeDumper
writes for the values a render holds."""

from __future__ import annotations

import random

import pytest
import yaml

from cmp_plugin.emit import DUMP_OPTIONS, emit

Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def obj(kind: str, name: str, namespace: str = "shop") -> dict:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": namespace}}


# The README's order, written out: kind in install order, other kinds after by kind, then namespace, name.
IN_ORDER = [obj("Namespace", "shop", ""), obj("NetworkPolicy", "a"), obj("NetworkPolicy", "b"),
            obj("ResourceQuota", "q"), obj("LimitRange", "l"), obj("ServiceAccount", "sa"),
            obj("Secret", "a", "other"), obj("Secret", "z", "shop"), obj("ConfigMap", "c"),
            obj("PersistentVolumeClaim", "p"), obj("Role", "r"), obj("RoleBinding", "r"), obj("Service", "s"),
            obj("StatefulSet", "db"), obj("Deployment", "web"), obj("EventBus", "bus"), obj("EventSource", "gh"),
            obj("Sensor", "s"), obj("WorkflowTemplate", "w"), obj("IngressRoute", "web"), obj("CronJob", "b"),
            obj("Job", "a"), obj("PodDisruptionBudget", "web")]


def names(text: str) -> list[tuple]:
    return [(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(text)]


@pytest.mark.parametrize("seed", range(5))
def test_any_input_order_gives_the_documented_order(seed):
    shuffled = IN_ORDER[:]
    random.Random(seed).shuffle(shuffled)
    assert names(emit(shuffled)) == [(d["kind"], d["metadata"]["name"]) for d in IN_ORDER]


VALUES = [
    ("plain", "nginx"), ("empty", ""), ("bool-words", ["yes", "no", "on", "off", "true", "Null", "~"]),
    ("numbers-as-text", ["0o17", "0x1f", "1e3", "1_000", ".5", "-.inf", "012", "1:20"]),
    ("numbers", [0, -1, 12345678901234567890, 1.5, float("inf")]), ("booleans", [True, False]), ("null", None),
    ("indicators", ["- a", "a: b", "#x", "x #y", "&a", "*a", "!t", "|", ">", "%x", "@x", "`x", "'q'", '"q"', "{x}"]),
    ("spaces", [" lead", "trail ", "a  b", "\ttab"]), ("lines", ["one\ntwo", "end\n", "\n", "a\r\nb"]),
    ("unicode", ["é", "日本", "\u2028", "\x85", "\ufeff", "😀"]), ("controls", ["\x00", "\x1b[31m", "\x7f"]),
    ("empty-collections", [{}, [], {"a": []}]), ("nested", {"a": [{"b": [1, {"c": None}]}, [[]]]}),
    ("keys", {"": 1, "yes": 2, "a b": 3, "1": 4, "k:": 5}), ("long", "x" * 5000 + " y"),
    ("document-markers", ["---", "...", "--- x", "a\n---\nb"]),
]


@pytest.mark.parametrize("value", [v for _, v in VALUES], ids=[n for n, _ in VALUES])
def test_values_are_written_as_pyyaml_writes_them(value):
    docs = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"v": value}}]
    assert emit(docs) == yaml.dump_all(docs, Dumper=Dumper, **DUMP_OPTIONS)


def test_the_same_objects_give_the_same_bytes():
    assert emit([dict(d) for d in IN_ORDER]) == emit(list(reversed(IN_ORDER)))
