"""Hardened pods (docs/applications.md "Security"): every pod of an application, process, job and
database runs without a service account token, with seccomp RuntimeDefault, no privilege escalation
and every capability dropped; applications as a non-root user unless the platform allows root and
the project asks for it; databases as their official image's own user.

_support.security_problems restates those promises from the documentation and the images'
Dockerfiles; it runs over every variant of test_applications, the variants below and the golden
files, and a mutation test shows it can fail.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from cmp_plugin.pipeline import render_file, validate_text
from cmp_plugin.problems import Failure
from cmp_plugin.settings import load_settings

from ._support import (EXAMPLES, HASH_A, REPO, all_object_errors, docs_of, integrity_problems, pod_template,
                       require_shared, security_problems, settings_for, write_project)
from .test_applications import ALL as APPLICATION_VARIANTS, get, rendered

ROOT_OK = {"CMP_ALLOW_ROOT": "true"}


def _db(name, type_, version, port, **extra):
    return {"name": name, "type": type_, "version": version, "port": port, "size": "1Gi", **extra}


VARIANTS = [
    ("ids-inherit-and-override", "ids", {"applications": [{
        "name": "web", "image": "ghcr.io/acme/web:1.0", "port": 8080, "runAsUser": 10001, "runAsGroup": 10001,
        "fsGroup": 2000, "volumes": [{"name": "media", "path": "/media", "size": "1Gi"}],
        "processes": [{"name": "worker", "command": ["work"]},
                      {"name": "admin", "port": 9000, "runAsUser": 10002, "fsGroup": 3000}],
        "jobs": [{"name": "migrate", "command": ["migrate"], "before": "deploy"},
                 {"name": "report", "command": ["report"], "schedule": "@daily"}]},
        {"name": "group-only", "image": "ghcr.io/acme/tool:1.0", "runAsGroup": 5000, "command": ["sleep", "1d"]}]},
     {}),
    ("read-only-root", "ro", {"applications": [{
        "name": "api", "git": {"owner": "acme", "repo": "api", "branch": "main", "hash": HASH_A}, "port": 80,
        "readOnlyRootFilesystem": True, "volumes": [{"name": "cache", "path": "/tmp/cache", "size": "1Gi"}],
        "processes": [{"name": "worker", "command": ["w"]}],
        "jobs": [{"name": "migrate", "command": ["m"], "before": "deploy"},
                 {"name": "nightly", "command": ["n"], "schedule": "0 3 * * *"}]},
        {"name": "plain", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080, "readOnlyRootFilesystem": False}]},
     {}),
    ("root-allowed", "legacy", {"applications": [{
        "name": "old", "image": "nginx:1.27", "port": 80, "runAsRoot": True, "runAsGroup": 101,
        "processes": [{"name": "exporter", "port": 9113, "runAsUser": 65534}],
        "jobs": [{"name": "rotate", "command": ["rotate"], "schedule": "@hourly"}]},
        {"name": "new", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080, "runAsRoot": False}]},
     ROOT_OK),
    ("database-images", "data", {"databases": [
        _db("pg", "postgres", "16", 5432), _db("pga", "postgres", "16-alpine", 5433),
        _db("pgm", "postgres", "17.2-alpine3.21", 5434, database="app", user="app"),
        _db("my", "mysql", "8.4", 3306), _db("myd", "mysql", "8.0-debian", 3307, database="app", user="app"),
        _db("rd", "redis", "7.4", 6379), _db("rda", "redis", "7.4-alpine", 6380),
        _db("mg", "mongodb", "8.0", 27017, database="app", user="app")]}, {}),
]
IDS = [v[0] for v in VARIANTS]


# --------------------------------------------------------------------------- every pod, everywhere

@pytest.mark.parametrize("case", APPLICATION_VARIANTS + VARIANTS, ids=[c[0] for c in APPLICATION_VARIANTS] + IDS)
def test_every_pod_is_hardened(case, tmp_path_factory):
    ident, project, data, env = case
    docs = rendered(case, tmp_path_factory)
    assert any(d["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob") for d in docs)
    assert security_problems(docs, project, data) == []


@pytest.mark.parametrize("golden", sorted((REPO / "tests" / "golden").glob("*.yaml")), ids=lambda p: p.stem)
def test_golden_files_are_hardened(golden):
    data = yaml.safe_load((EXAMPLES / golden.name).read_text("utf-8"))
    assert security_problems(docs_of(golden.read_text("utf-8")), golden.stem, data) == []


@pytest.mark.parametrize("case", VARIANTS, ids=IDS)
def test_variants_are_valid_objects(case, tmp_path_factory):
    docs = rendered(case, tmp_path_factory)
    assert integrity_problems(docs, case[2]) == []
    require_shared()
    assert all_object_errors(docs) == []


# --------------------------------------------------------------------------- what each field renders

def _pod(docs, kind, name) -> dict:
    return pod_template(get(docs, kind, name))["spec"]


def test_ids_are_inherited_by_processes_and_jobs_and_a_process_may_replace_them(tmp_path_factory):
    docs = rendered(VARIANTS[0], tmp_path_factory)
    app = {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 2000,
           "fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": {"type": "RuntimeDefault"}}
    for kind, name in (("Deployment", "web-app"), ("Deployment", "web-worker"), ("Job", "web-migrate"),
                       ("CronJob", "web-report")):
        assert _pod(docs, kind, name)["securityContext"] == app, name
    assert _pod(docs, "Deployment", "web-admin")["securityContext"] == {
        **app, "runAsUser": 10002, "fsGroup": 3000}
    # only a group: the image's user, which the kubelet still checks is not root
    assert _pod(docs, "Deployment", "group-only-app")["securityContext"] == {
        "runAsNonRoot": True, "runAsGroup": 5000, "seccompProfile": {"type": "RuntimeDefault"}}
    container = _pod(docs, "Deployment", "web-app")["containers"][0]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def test_read_only_root_gets_a_writable_tmp_in_every_pod_of_the_app(tmp_path_factory):
    docs = rendered(VARIANTS[1], tmp_path_factory)
    for kind, name in (("Deployment", "api-app"), ("Deployment", "api-worker"), ("Job", "api-migrate"),
                       ("CronJob", "api-nightly")):
        pod = _pod(docs, kind, name)
        c = pod["containers"][0]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"], name
        assert {"name": "tmp", "emptyDir": {}} in pod["volumes"], name
    # the app's own volume is still mounted, inside /tmp here
    assert _pod(docs, "Deployment", "api-app")["containers"][0]["volumeMounts"] == [
        {"name": "cache", "mountPath": "/tmp/cache"}, {"name": "tmp", "mountPath": "/tmp"}]
    plain = _pod(docs, "Deployment", "plain-app")
    assert "readOnlyRootFilesystem" not in plain["containers"][0]["securityContext"] and "volumes" not in plain


def test_root_where_the_platform_allows_it(tmp_path_factory):
    docs = rendered(VARIANTS[2], tmp_path_factory)
    for kind, name in (("Deployment", "old-app"), ("CronJob", "old-rotate")):
        sc = _pod(docs, kind, name)["securityContext"]
        assert sc == {"runAsNonRoot": False, "runAsGroup": 101, "seccompProfile": {"type": "RuntimeDefault"}}, name
    # a process that names its own user is not root, even in a root app
    assert _pod(docs, "Deployment", "old-exporter")["securityContext"]["runAsNonRoot"] is True
    assert _pod(docs, "Deployment", "old-exporter")["securityContext"]["runAsUser"] == 65534
    assert _pod(docs, "Deployment", "new-app")["securityContext"]["runAsNonRoot"] is True
    # root or not, no container gains privileges
    for name in ("old-app", "old-exporter"):
        assert _pod(docs, "Deployment", name)["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize("sts, image, ids", [
    ("data-pg-db", "postgres:16", (999, 999)), ("data-pga-db", "postgres:16-alpine", (70, 70)),
    ("data-pgm-db", "postgres:17.2-alpine3.21", (70, 70)), ("data-my-db", "mysql:8.4", (999, 999)),
    ("data-myd-db", "mysql:8.0-debian", (999, 999)), ("data-rd-db", "redis:7.4", (999, 999)),
    ("data-rda-db", "redis:7.4-alpine", (999, 1000)), ("data-mg-db", "mongo:8.0", (999, 999)),
])
def test_databases_run_as_their_images_user(sts, image, ids, tmp_path_factory):
    pod = _pod(rendered(VARIANTS[3], tmp_path_factory), "StatefulSet", sts)
    assert pod["containers"][0]["image"] == image
    uid, gid = ids
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": gid, "fsGroup": gid,
                                      "fsGroupChangePolicy": "OnRootMismatch",
                                      "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["automountServiceAccountToken"] is False


def test_postgres_keeps_its_data_in_a_subdirectory_of_the_volume(tmp_path_factory):
    """Running as 999, the entrypoint can create and chmod PGDATA only below the volume's root."""
    pod = _pod(rendered(VARIANTS[3], tmp_path_factory), "StatefulSet", "data-pgm-db")
    c = pod["containers"][0]
    mount = next(m["mountPath"] for m in c["volumeMounts"] if m["mountPath"] != "/docker-entrypoint-initdb.d")
    pgdata = next(e["value"] for e in c["env"] if e["name"] == "PGDATA")
    assert pgdata.startswith(mount + "/") and pgdata != mount


# --------------------------------------------------------------------------- rules

def _problems(data, env=None) -> list[str]:
    return [p.format() for p in validate_text(yaml.safe_dump(data, sort_keys=False), "shop.yaml",
                                              settings=settings_for(env or {}))]


ROOT_APP = {"applications": [{"name": "web", "image": "nginx:1.27", "port": 80, "runAsRoot": True}]}


def test_root_is_refused_unless_the_platform_allows_it():
    assert _problems(ROOT_APP) == [
        "shop.yaml:5:14: error: applications[0].runAsRoot: this platform does not allow root (setting allow_root, "
        "CMP_ALLOW_ROOT); set runAsUser to the image's non-root user id instead"]
    assert _problems(ROOT_APP, ROOT_OK) == []
    assert _problems(ROOT_APP, {"CMP_ALLOW_ROOT": "false"}) != []
    assert load_settings(env={}).allow_root is False


def test_root_from_the_settings_file(tmp_path):
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text("allow_root: true\n")
    assert load_settings(env={}, file=str(settings_file)).allow_root is True
    with pytest.raises(Failure):
        load_settings(env={"CMP_ALLOW_ROOT": "maybe"})


def test_root_and_a_user_id_contradict():
    data = copy.deepcopy(ROOT_APP)
    data["applications"][0]["runAsUser"] = 1000
    assert [p.split(": error: ")[1] for p in _problems(data, ROOT_OK)] == [
        "applications[0].runAsUser: give runAsUser or runAsRoot, not both (runAsRoot lets the image's user be root)"]


def test_a_process_user_id_in_a_root_app_is_allowed():
    data = copy.deepcopy(ROOT_APP)
    data["applications"][0]["processes"] = [{"name": "exporter", "runAsUser": 65534}]
    assert _problems(data, ROOT_OK) == []


# Hostile or mistaken values of the id fields: anything but an integer 1..2^31-1 (Kubernetes'
# IsValidUserID/IsValidGroupID range, minus root) is one schema problem at the field itself.
BAD_IDS = [0, -1, 2**31, 2**63, 10**30, 1.0, 1.5, "1000", "0", "$(UID)", True, False, None, [], [1000], {}, {"id": 1}]
ID_FIELDS = ["runAsUser", "runAsGroup", "fsGroup"]


@pytest.mark.parametrize("field", ID_FIELDS)
@pytest.mark.parametrize("value", BAD_IDS, ids=repr)
@pytest.mark.parametrize("where", ["app", "process"])
def test_an_id_is_a_positive_32_bit_integer(field, value, where, tmp_path):
    app = {"name": "web", "image": "nginx:1.27", "port": 80, "processes": [{"name": "worker"}]}
    target, path = (app, "applications[0]") if where == "app" else (app["processes"][0], "applications[0].processes[0]")
    target[field] = value
    problems = _problems({"applications": [app]})
    assert len(problems) == 1 and f": error: {path}.{field}: " in problems[0], problems
    with pytest.raises(Failure):
        render_file(str(write_project(tmp_path, "shop", yaml.safe_dump({"applications": [app]}))),
                    settings=settings_for({}), env={})


@pytest.mark.parametrize("field", ["runAsRoot", "readOnlyRootFilesystem"])
@pytest.mark.parametrize("value", ["true", "yes", 1, 0, None, [], {}], ids=repr)
def test_a_switch_is_a_boolean(field, value):
    data = {"applications": [{"name": "web", "image": "nginx:1.27", field: value}]}
    problems = _problems(data, ROOT_OK)
    assert len(problems) == 1 and f"applications[0].{field}: " in problems[0], problems


def test_jobs_inherit_ids_and_name_none_of_their_own():
    data = {"applications": [{"name": "web", "image": "nginx:1.27",
                              "jobs": [{"name": "m", "command": ["m"], "before": "deploy", "runAsUser": 1000}]}]}
    assert "unknown field 'runAsUser'" in _problems(data)[0]


@pytest.mark.parametrize("uid", [1, 999, 65534, 2**31 - 1])
def test_the_range_is_rendered_exactly(uid, tmp_path):
    data = {"applications": [{"name": "web", "image": "nginx:1.27", "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid}]}
    path = write_project(tmp_path, "shop", yaml.safe_dump(data))
    sc = _pod(docs_of(render_file(str(path), settings=settings_for({}), env={})), "Deployment", "web-app")["securityContext"]
    assert (sc["runAsUser"], sc["runAsGroup"], sc["fsGroup"]) == (uid, uid, uid)


def test_read_only_root_keeps_tmp_for_itself():
    data = {"applications": [{"name": "web", "image": "ghost:5.90", "readOnlyRootFilesystem": True, "volumes": [
        {"name": "tmp", "path": "/data", "size": "1Gi"}, {"name": "scratch", "path": "/tmp/", "size": "1Gi"}]}]}
    messages = [p.split(": error: ")[1] for p in _problems(data)]
    assert messages == [
        "applications[0].volumes[0].name: the name 'tmp' is taken by the /tmp emptyDir of readOnlyRootFilesystem; "
        "choose another name",
        "applications[0].volumes[1].path: readOnlyRootFilesystem already mounts a writable emptyDir at /tmp; "
        "mount this volume elsewhere"]
    data["applications"][0]["readOnlyRootFilesystem"] = False
    assert _problems(data) == []


# --------------------------------------------------------------------------- the checker can fail

def _mutations():
    def pod(docs, kind, name):
        return _pod(docs, kind, name)

    def container(docs, kind, name):
        return pod(docs, kind, name)["containers"][0]

    def set_pod(kind, name, key, value):
        def mutate(docs):
            pod(docs, kind, name)[key] = value
        return mutate

    def set_or_delete(context, key, value):  # None deletes the key
        if value is None:
            del context[key]
        else:
            context[key] = value

    def set_sc(kind, name, key, value):
        return lambda docs: set_or_delete(pod(docs, kind, name)["securityContext"], key, value)

    def set_csc(kind, name, key, value):
        return lambda docs: set_or_delete(container(docs, kind, name)["securityContext"], key, value)

    def drop_tmp(docs):
        pod(docs, "Deployment", "web-worker")["volumes"] = []

    def extra_pod(docs):
        twin = copy.deepcopy(get(docs, "Deployment", "web-worker"))
        twin["metadata"]["name"] = "web-shadow"
        docs.append(twin)

    return [
        ("token", set_pod("Deployment", "web-app", "automountServiceAccountToken", True)),
        ("token-default", set_pod("CronJob", "web-report", "automountServiceAccountToken", None)),
        ("seccomp", set_sc("Job", "web-migrate", "seccompProfile", {"type": "Unconfined"})),
        ("no-seccomp", set_sc("StatefulSet", "sec-db-db", "seccompProfile", None)),
        ("root-app", set_sc("Deployment", "web-worker", "runAsNonRoot", False)),
        ("uid-0", set_sc("Deployment", "web-app", "runAsUser", 0)),
        ("db-root", set_sc("StatefulSet", "sec-db-db", "runAsUser", 0)),
        ("db-wrong-uid", set_sc("StatefulSet", "sec-db-db", "runAsUser", 1000)),
        ("db-may-be-root", set_sc("StatefulSet", "sec-db-db", "runAsNonRoot", False)),
        ("fsgroup-walked-every-start", set_sc("Deployment", "web-app", "fsGroupChangePolicy", "Always")),
        ("process-lost-its-user", set_sc("Deployment", "web-admin", "runAsUser", 10001)),
        ("escalation", set_csc("Deployment", "web-app", "allowPrivilegeEscalation", True)),
        ("escalation-default", set_csc("Job", "web-migrate", "allowPrivilegeEscalation", None)),
        ("capability", set_csc("Deployment", "web-worker", "capabilities", {"drop": ["ALL"], "add": ["NET_ADMIN"]})),
        ("container-uid-0", set_csc("Deployment", "web-app", "runAsUser", 0)),
        ("privileged", set_csc("StatefulSet", "sec-db-db", "privileged", True)),
        ("writable-root", set_csc("Deployment", "web-worker", "readOnlyRootFilesystem", None)),
        ("no-tmp", drop_tmp),
        ("pod-not-in-the-file", extra_pod),
    ]


MUTATION_PROJECT = {"applications": [{
    "name": "web", "image": "ghcr.io/acme/web:1.0", "port": 80, "runAsUser": 10001, "fsGroup": 2000,
    "readOnlyRootFilesystem": True,
    "processes": [{"name": "worker", "command": ["w"]}, {"name": "admin", "runAsUser": 10002}],
    "jobs": [{"name": "migrate", "command": ["m"], "before": "deploy"}, {"name": "report", "command": ["r"], "schedule": "@daily"}]}],
    "databases": [_db("db", "postgres", "16", 5432)]}
MUTATIONS = _mutations()


@pytest.fixture(scope="module")
def mutation_base(tmp_path_factory):
    docs = rendered(("security-mutation-base", "sec", MUTATION_PROJECT, {}), tmp_path_factory)
    assert security_problems(docs, "sec", MUTATION_PROJECT) == []
    return docs


@pytest.mark.parametrize("ident, mutate", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_the_security_checker_catches(ident, mutate, mutation_base):
    docs = copy.deepcopy(mutation_base)
    mutate(docs)
    assert security_problems(docs, "sec", MUTATION_PROJECT), f"{ident}: the checker missed it"
