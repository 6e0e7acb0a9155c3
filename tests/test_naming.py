"""The naming table: every derived name's limit is enforced at exactly that limit, by the table's
own check and by validation of a project file, in-process."""

from __future__ import annotations

import pytest
import yaml

from cmp_plugin import naming
from cmp_plugin.pipeline import validate_text
from cmp_plugin.settings import load_settings

ENTRIES = [(group, entry) for group, entries in naming.TABLE.items() for entry in entries]
LIMITED = [(group, entry) for group, entry in ENTRIES if entry.kind]
ALL_FACTS = ("ci", "backup", "once", "scheduled")


def _id(case) -> str:
    return f"{case[0]}.{case[1].key}"


@pytest.mark.parametrize("case", LIMITED, ids=_id)
def test_too_long_reports_a_name_only_past_its_limit(case):
    group, entry = case
    limit = naming.LIMITS[entry.kind]
    names = {e.key: "x" for e in naming.TABLE[group]}
    assert naming.too_long(group, {**names, entry.key: "a" * limit}, ALL_FACTS) == []
    over = "a" * (limit + 1)
    assert naming.too_long(group, {**names, entry.key: over}, ALL_FACTS) == [(entry.key, over, limit)]
    if entry.when:  # a name that is not rendered is not checked
        assert naming.too_long(group, {**names, entry.key: over}, ()) == []


def test_every_kind_has_a_limit_and_every_key_is_unique_in_its_group():
    for group, entries in naming.TABLE.items():
        assert len({e.key for e in entries}) == len(entries), group
        assert all(e.kind is None or e.kind in naming.LIMITS for e in entries)
        assert all(e.when in (None, *ALL_FACTS) for e in entries)


def test_derive_fills_every_pattern():
    assert naming.app_names("shop", "api")["webhook_path"] == "/shop-api"
    assert naming.project_names("shop")["eventbus_statefulset"] == "eventbus-shop-ci-bus-js"
    assert naming.route_name("shop", "api", "a.example.com") == "shop-api-a-example-com-route"
    assert naming.job_names("api", "nightly") == {"job": "api-nightly", "cronjob": "api-nightly", "container": "nightly"}


def test_claims_follow_the_facts():
    names = naming.app_names("shop", "api")
    assert ("WorkflowTemplate", "shop-api-build-workflow-template") in naming.claims("app", names, ("ci",))
    assert all(kind != "WorkflowTemplate" for kind, _ in naming.claims("app", names, ()))
    assert naming.claims("job", naming.job_names("api", "j"), ("once", "scheduled")) == [
        ("Job", "api-j"), ("pod label", "api-j"), ("CronJob", "api-j")]


# --------------------------------------------------------------------------- through validation

def _label(n: int, first: str = "a") -> str:
    """A lowercase RFC 1123 label of n characters that starts with a letter."""
    return first + "b" * (n - 1)


def _domain(n: int) -> str:
    """A hostname of n characters, labels of at most 63."""
    parts, left = [], n
    while left > 63:
        parts.append(_label(62, "d"))
        left -= 63
    return ".".join(parts + [_label(left, "d")])


def _app(name: str, **extra) -> dict:
    return {"name": name, "git": {"owner": "o", "repo": "r", "branch": "main"}, "port": 80, **extra}


def _db(name: str, **extra) -> dict:
    return {"name": name, "type": "postgres", "version": "16", "port": 5432, "size": "1Gi", **extra}


def _setup(group: str, key: str, n: int):
    """(project, data, path of the name's source) with the varied field n characters long."""
    if group == "project":
        return _label(n, "p"), {"applications": [_app("web")]}, "project"
    if group in ("app", "route"):
        if group == "route":
            return "p", {"applications": [_app("web", domains=[_domain(n)])]}, "applications[0].domains[0]"
        return "p", {"applications": [_app(_label(n))]}, "applications[0].name"
    if group in ("process", "job", "volume"):
        item = {"process": {"name": _label(n), "command": ["x"]},
                "job": {"name": _label(n), "command": ["x"], **({"schedule": "@daily"} if key == "cronjob" else {})},
                "volume": {"name": _label(n), "path": "/data", "size": "1Gi"}}[group]
        lists = {"process": "processes", "job": "jobs", "volume": "volumes"}
        return "p", {"applications": [_app("web", **{lists[group]: [item]})]}, f"applications[0].{lists[group]}[0].name"
    extra = {"backup": {"schedule": "@daily"}} if group == "backup" else {}
    return "p", {"applications": [_app("web")], "databases": [_db(_label(n), **extra)]}, "databases[0].name"


def _length_at(group: str, key: str, n: int) -> int:
    project, data, _ = _setup(group, key, n)
    return len(_derived(group, key, project, data))


def _derived(group: str, key: str, project: str, data: dict) -> str:
    app = data["applications"][0]
    if group == "project":
        return naming.project_names(project)[key]
    if group == "app":
        return naming.app_names(project, app["name"])[key]
    if group == "route":
        return naming.route_name(project, app["name"], app["domains"][0])
    if group in ("db", "backup"):
        db = data["databases"][0]["name"]
        return (naming.db_names if group == "db" else naming.backup_names)(project, db)[key]
    lists = {"process": "processes", "job": "jobs", "volume": "volumes"}
    item = app[lists[group]][0]["name"]
    return {"process": naming.process_names, "job": naming.job_names, "volume": naming.volume_names}[group](
        app["name"], item)[key]


def _reachable(group: str, key: str, limit: int) -> int | None:
    """The length of the varied field that makes the name exactly `limit` long, if a valid one does."""
    top = 253 if group == "route" else 63
    for n in range(1, top):
        if _length_at(group, key, n) == limit:
            return n
    return None


def _problems(group: str, key: str, n: int) -> tuple[str, list]:
    project, data, _ = _setup(group, key, n)
    text = yaml.safe_dump(data, sort_keys=False)
    found = validate_text(text, f"{project}.yaml", settings=load_settings(env={}))
    return _derived(group, key, project, data), found


REACHABLE = [(g, e) for g, e in LIMITED if _reachable(g, e.key, naming.LIMITS[e.kind])]


def test_most_limits_can_be_reached_by_a_valid_project():
    # the test below must not pass by skipping everything
    assert len(REACHABLE) >= 19, [_id(c) for c in REACHABLE]


@pytest.mark.parametrize("case", REACHABLE, ids=_id)
def test_validation_refuses_a_derived_name_one_past_its_limit(case):
    group, entry = case
    limit = naming.LIMITS[entry.kind]
    n = _reachable(group, entry.key, limit)
    label = ("backup " if group == "backup" else "") + entry.key.replace("_", " ")
    name, found = _problems(group, entry.key, n)
    assert len(name) == limit
    assert not [p for p in found if f"derived name {name!r}" in p.message and f"({label})" in p.message]
    name, found = _problems(group, entry.key, n + 1)
    assert len(name) == limit + 1
    _, _, where = _setup(group, entry.key, n + 1)
    if group == "route":
        expected = f"derived name {name!r} is {limit + 1} characters; Kubernetes allows {limit}"
    else:
        tail = "the project name" if group == "project" else "the project or this name"
        expected = (f"derived name {name!r} ({label}) is {limit + 1} characters; "
                    f"Kubernetes allows {limit}: shorten {tail}")
    assert [p.path for p in found if p.message == expected] == [where]


# --------------------------------------------------------------------------- the project name

GOOD_PROJECTS = ["a", "shop", "shop-2", "a" * 63, "a-b-c"]
BAD_PROJECTS = ["", "1shop", "-shop", "shop-", "Shop", "a" * 64, "sh_op", "shop\n", "é"]


def test_project_name_is_a_label_that_starts_with_a_letter():
    assert all(naming.is_project_name(name) for name in GOOD_PROJECTS)
    assert not any(naming.is_project_name(name) for name in BAD_PROJECTS)


def test_project_name_of_a_file():
    assert naming.project_name("projects/shop.yaml") == "shop"
    assert naming.project_name("shop.yml") == "shop"
    assert naming.project_name("a/b/shop.txt") == "shop.txt"
    assert naming.project_name("a.yaml/shop") == "shop"


@pytest.mark.parametrize("name", BAD_PROJECTS, ids=repr)
def test_argo_cd_requests_and_validation_refuse_the_same_project_names(name):
    from cmp_plugin.argocd.request import _check_project
    from cmp_plugin.problems import Failure

    with pytest.raises(Failure) as raised:
        _check_project(name, "parameter 'project'")
    assert raised.value.problems[0].message == (
        f"parameter 'project': project name {name!r} must be a lowercase RFC 1123 label "
        "(a-z, 0-9 and '-', starting with a letter, at most 63)")
    found = validate_text("applications: [{name: web, image: 'nginx:1'}]\n", "x.yaml", project=name or None,
                          settings=load_settings(env={}))
    if name:  # an empty --project falls back to the file's stem
        assert [p.rule for p in found] == ["project-name"]


@pytest.mark.parametrize("name", GOOD_PROJECTS)
def test_argo_cd_requests_accept_valid_project_names(name):
    from cmp_plugin.argocd.request import _check_project

    assert _check_project(name, "parameter 'project'") == name
