"""The check stage finds references, placeholders and selector matches in one walk per object and
an index of pod labels; the straightforward versions below (one generator walk per question, every
selector against every workload) are the reference it must agree with, on every example and on
rendered objects mutated at random places."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from cmp_plugin import check, pipeline, render
from cmp_plugin.secrets.operators import apply_mode

from ._support import EXAMPLE_FILES, settings_for


# --------------------------------------------------------------------------- the reference

def _walk(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield path, key, item
            yield from _walk(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, path + (i,))


def reference_entries(doc):
    return [(path, key, item) for path, key, item in _walk(doc.get("spec", {})) if key in check._REFERENCE_KEYS]


def _strings(value, path=()):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield path, key
            yield from _strings(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, path + (i,))


def reference_placeholders(doc):
    return [(path, text) for path, text in _strings(doc) if "<path:" in text]


def reference_selections(docs):
    """(object, the workloads its selector picks) by comparing it with every workload."""
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob")]
    out = []
    for doc in docs:
        spec = doc.get("spec") or {}
        if doc["kind"] == "Service":
            selector = spec.get("selector")
        elif doc["kind"] == "PodDisruptionBudget":
            selector = (spec.get("selector") or {}).get("matchLabels")
        elif doc["kind"] == "NetworkPolicy":
            selector = (spec.get("podSelector") or {}).get("matchLabels")
        else:
            continue
        if selector:
            chosen = [w for w in workloads if all(check._pod_labels(w).get(k) == v for k, v in selector.items())]
            if len(chosen) != 1:
                out.append((doc["kind"], doc["metadata"]["name"], [w["metadata"]["name"] for w in chosen]))
    return out


# --------------------------------------------------------------------------- cases

def _renders():
    out = []
    for path in EXAMPLE_FILES:
        for mode in ("inline", "external-secrets"):
            settings = settings_for({"CMP_SECRETS_MODE": mode})
            project = pipeline.load_project(str(path), settings=settings)
            docs = render.render(project, settings)
            out.append(apply_mode(docs, project, settings) if mode != "inline" else docs)
    return out


RENDERS = _renders()


def agree(docs):
    for doc in docs:
        refs, found = check._scan(doc)
        assert refs == reference_entries(doc)
        assert found == reference_placeholders(doc)
    problems = [p.format() for p in check._selector_problems(docs)]
    expected = reference_selections(docs)
    assert len(problems) == len(expected)
    for message, (kind, name, chosen) in zip(problems, expected):
        assert f"{kind} {name!r} selects the pods of {len(chosen)} workloads" in message
        assert all(repr(n) in message for n in chosen)


@pytest.mark.parametrize("index", range(len(RENDERS)))
def test_walks_agree_on_every_example(index):
    agree(RENDERS[index])


def _containers(value, out):
    if isinstance(value, (dict, list)):
        out.append(value)
        for item in value.values() if isinstance(value, dict) else value:
            _containers(item, out)
    return out


MUTATIONS = [
    ("key", "<path:kv/data/x#k>"), ("value", "a <path:kv/data/x#k> b"), ("value", {"secretKeyRef": {"name": "s", "key": "k"}}),
    ("key", "serviceAccountName"), ("key", "secret"), ("value", {"imagePullSecrets": [{"name": "r"}]}),
    ("label", None), ("label", "other"), ("label", ["unhashable"]), ("drop", None), ("copy-workload", None),
    ("key", 7), ("value", ["<path:kv/data/y#z>", {"<path:a#b>": 1}]),
]


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_walks_agree_on_mutated_renders(data):
    docs = copy.deepcopy(data.draw(st.sampled_from(RENDERS)))
    for _ in range(data.draw(st.integers(1, 4))):
        what, value = copy.deepcopy(data.draw(st.sampled_from(MUTATIONS)))
        doc = data.draw(st.sampled_from(docs))
        if what == "drop" and len(docs) > 1:
            docs.remove(doc)
        elif what == "copy-workload":
            workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
            if workloads:
                twin = copy.deepcopy(data.draw(st.sampled_from(workloads)))
                twin["metadata"]["name"] += "-twin"
                docs.append(twin)
        elif what == "label":
            labels = [check._pod_labels(d) for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob")]
            selectors = [(d.get("spec") or {}).get("selector") for d in docs if d["kind"] == "Service"]
            targets = [m for m in labels + selectors if isinstance(m, dict) and m]
            if targets:
                target = data.draw(st.sampled_from(targets))
                target[data.draw(st.sampled_from(sorted(target, key=repr)))] = value
        else:
            container = data.draw(st.sampled_from(_containers(doc, [])))
            if isinstance(container, list):
                container.append(value)
            elif what == "key":
                container[value] = "x"
            else:
                keys = ["x", "secretRef", "spec"] if isinstance(value, dict) else ["x", "secretRef"]
                container[data.draw(st.sampled_from(keys))] = value
    agree(docs)
