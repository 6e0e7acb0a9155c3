"""The CI objects: one EventBus, EventSource and Sensor per project, and what a push builds.

A push is followed through the rendered objects the way GitHub, Traefik and Argo Events handle it:
GitHub delivers it once to every hook of the repository, a hook's URL is routed by an IngressRoute
to the EventSource's Service, the entry serving that path publishes it, and every Sensor dependency
on that entry whose filters pass resolves; a trigger fires when its `conditions` hold (without
conditions: when every dependency of the Sensor has resolved). Written from Argo Events' documented
behaviour, not from cmp_plugin.
"""

from __future__ import annotations

import copy
import re
from collections import Counter

import pytest

from cmp_plugin.pipeline import render_file
from cmp_plugin.problems import Failure

from ._support import HASH_A, HASH_B, app, docs_of, integrity_problems, project_text, settings_for, write_project

HOST = "webhook.example.com"
SHA = "c" * 40


def render(tmp_path, name, apps, env=None):
    path = write_project(tmp_path, name, project_text(apps=apps))
    return docs_of(render_file(str(path), settings=settings_for(env or {}), env={}))


def of(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def one(docs, kind):
    (found,) = of(docs, kind)
    return found


# --------------------------------------------------------------------------- a push, followed through


def _re2(pattern: str) -> re.Pattern:
    """Python `re` for Go RE2 here: a leading (?i) flag, and `$` only at the very end."""
    flags = re.I if pattern.startswith("(?i)") else 0
    pattern = pattern[4:] if flags else pattern
    return re.compile(re.sub(r"\$$", r"\\Z", pattern), flags)


def _passes(filters: dict, event: dict) -> bool:
    for f in filters.get("data") or []:
        value = event
        for key in f["path"].split("."):
            if not isinstance(value, dict) or key not in value:
                return False
            value = value[key]
        if f["type"] == "bool":
            ok = any(str(value).lower() == v for v in f["value"])
        else:
            ok = any(_re2(v).search(str(value)) for v in f["value"])
            ok = ok if f.get("comparator", "=") == "=" else not ok
        if not ok:
            return False
    return True


def _holds(conditions: str | None, resolved: set, all_deps: list) -> bool:
    if conditions is None:
        return set(all_deps) <= resolved
    expr = re.sub(r"[A-Za-z0-9_-]+", lambda m: str(m.group() in resolved), conditions)
    expr = expr.replace("&&", " and ").replace("||", " or ")
    return eval(expr, {"__builtins__": {}}, {})  # only True/False/and/or/parentheses are left


def deliver(docs, url: str, body: dict, event: str = "push") -> list[str]:
    """The WorkflowTemplates that one delivery of a webhook to url starts."""
    host, path = re.fullmatch(r"https://([^/]+)(/.*)", url).groups()
    routes = [(r, s) for route in of(docs, "IngressRoute") for r in route["spec"]["routes"] for s in r["services"]
              if r["match"] == f"Host(`{host}`) && Path(`{path}`)"]
    if not routes:
        return []
    (_, service), = routes
    (es,) = [e for e in of(docs, "EventSource") if e["metadata"]["name"] + "-eventsource-svc" == service["name"]]
    port = {p["port"]: p["targetPort"] for p in es["spec"]["service"]["ports"]}[service["port"]]
    (entry,) = [n for n, gh in es["spec"]["github"].items()
                if gh["webhook"]["endpoint"] == path and int(gh["webhook"]["port"]) == port]
    data = {"headers": {"X-Github-Event": [event]}, "body": {**body, "X-GitHub-Event": event}}
    started = []
    for sensor in of(docs, "Sensor"):
        deps = sensor["spec"]["dependencies"]
        resolved = {d["name"] for d in deps if (d["eventSourceName"], d["eventName"]) == (es["metadata"]["name"], entry)
                    and _passes(d.get("filters") or {}, data)}
        for trigger in sensor["spec"]["triggers"]:
            if resolved and _holds(trigger["template"].get("conditions"), resolved, [d["name"] for d in deps]):
                started.append(trigger["template"]["k8s"]["source"]["resource"]["spec"]["workflowTemplateRef"]["name"])
    return started


def hooks(docs, owner: str, repo: str) -> list[str]:
    """The webhook URLs of a repository: Argo Events registers one per entry that names it."""
    return [gh["webhook"]["url"] + gh["webhook"]["endpoint"] for es in of(docs, "EventSource")
            for gh in es["spec"]["github"].values()
            if any(r["owner"].lower() == owner.lower() and repo.lower() in [n.lower() for n in r["names"]]
                   for r in gh["repositories"])]


def push(owner: str, repo: str, branch: str, after: str = SHA, deleted: bool = False) -> dict:
    return {"ref": f"refs/heads/{branch}", "after": after, "deleted": deleted,
            "repository": {"full_name": f"{owner}/{repo}"}}


def builds_of_a_push(docs, owner, repo, branch, **kw) -> Counter:
    """GitHub delivers the push once to each of the repository's hooks."""
    return Counter(t for url in hooks(docs, owner, repo) for t in deliver(docs, url, push(owner, repo, branch, **kw)))


MONOREPO = [app("api", owner="acme", repo="mono", build={"context": "api"}),
            app("web", owner="acme", repo="mono", build={"context": "web"}),
            app("docs", owner="acme", repo="mono", branch="gh-pages"),
            app("blog", owner="acme", repo="blog"),
            app("fork", owner="other", repo="mono")]


def wt(project, a):
    return f"{project}-{a}-build-workflow-template"


def test_a_push_builds_each_application_of_its_repository_and_branch_once(tmp_path):
    docs = render(tmp_path, "mono", MONOREPO)
    assert len(hooks(docs, "acme", "mono")) == 3  # one hook per application, as before the upgrade
    assert builds_of_a_push(docs, "acme", "mono", "main") == {wt("mono", "api"): 1, wt("mono", "web"): 1}
    assert builds_of_a_push(docs, "acme", "mono", "gh-pages") == {wt("mono", "docs"): 1}
    assert builds_of_a_push(docs, "acme", "blog", "main") == {wt("mono", "blog"): 1}
    assert builds_of_a_push(docs, "other", "mono", "main") == {wt("mono", "fork"): 1}
    assert builds_of_a_push(docs, "acme", "mono", "main-old") == {}
    assert builds_of_a_push(docs, "ACME", "Mono", "main") == {wt("mono", "api"): 1, wt("mono", "web"): 1}


def test_every_webhook_url_of_the_previous_release_still_builds_its_application(tmp_path):
    """GitHub keeps the hooks it was given: https://<webhook host>/<project>-<app>, one per app."""
    docs = render(tmp_path, "mono", MONOREPO)
    for a in MONOREPO:
        url = f"https://{HOST}/mono-{a['name']}"
        body = push(a["git"]["owner"], a["git"]["repo"], a["git"]["branch"])
        assert deliver(docs, url, body) == [wt("mono", a["name"])], url


def test_what_does_not_build(tmp_path):
    docs = render(tmp_path, "mono", MONOREPO)
    url = f"https://{HOST}/mono-api"
    assert deliver(docs, url, push("acme", "mono", "main"), event="ping") == []
    assert deliver(docs, url, {**push("acme", "mono", "main"), "ref": "refs/tags/main"}) == []
    assert deliver(docs, url, push("acme", "mono", "main", after="0" * 40, deleted=True)) == []
    assert deliver(docs, url, push("acme", "mono", "main", after=SHA.upper())) == []
    # a hook of another repository pointed at api's URL (the webhook secret is the project's)
    assert deliver(docs, url, push("acme", "blog", "main")) == []
    assert deliver(docs, url, push("acme", "mono-x", "main")) == []
    assert deliver(docs, f"https://{HOST}/mono-nope", push("acme", "mono", "main")) == []


def test_without_conditions_a_trigger_would_wait_for_every_application():
    """Why each trigger names its dependency: Argo Events' default is all dependencies (&&)."""
    assert not _holds(None, {"api-push"}, ["api-push", "web-push"])
    assert _holds("api-push", {"api-push"}, ["api-push", "web-push"])
    assert not _holds("api-push", {"web-push"}, ["api-push", "web-push"])


def test_the_simulation_can_fail(tmp_path):
    """A Sensor whose triggers lost their conditions builds nothing for a single push, and the
    independent checker says why."""
    docs = render(tmp_path, "mono", MONOREPO)
    broken = copy.deepcopy(docs)
    for trigger in one(broken, "Sensor")["spec"]["triggers"]:
        del trigger["template"]["conditions"]
    assert builds_of_a_push(broken, "acme", "mono", "main") == {}
    assert any("has no conditions" in p for p in integrity_problems(broken))
    route = next(r for r in of(broken, "IngressRoute") if r["metadata"]["name"] == "mono-api-webhook-route")
    route["spec"]["routes"][0]["match"] = route["spec"]["routes"][0]["match"].replace("/mono-api", "/mono-apx")
    assert any("reaches no webhook endpoint" in p for p in integrity_problems(broken))
    es = one(broken, "EventSource")
    es["spec"]["github"]["mono-web-github-trigger"]["webhook"]["endpoint"] = "/mono-api"
    assert any("served by more than one entry" in p for p in integrity_problems(broken))


# --------------------------------------------------------------------------- objects and pods per project


def ci_pods(docs) -> int:
    """Pods the CI objects imply: the EventBus's servers (native NATS: at least 3, Argo Events
    raises fewer), one per EventSource and per Sensor (spec.replicas, default 1)."""
    pods = 0
    for bus in of(docs, "EventBus"):
        if "jetstream" in bus["spec"]:
            pods += bus["spec"]["jetstream"].get("replicas", 3)
        else:
            pods += max(3, bus["spec"]["nats"]["native"].get("replicas", 3))
    return pods + sum(d["spec"].get("replicas", 1) for d in of(docs, "EventSource") + of(docs, "Sensor"))


@pytest.mark.parametrize("n", [1, 3, 10])
def test_one_eventbus_eventsource_and_sensor_whatever_the_number_of_applications(tmp_path, n):
    apps = [app(f"app{i}", repo=f"repo{i % 2}") for i in range(n)]
    docs = render(tmp_path, "p", apps)
    assert Counter(d["kind"] for d in docs if d["kind"] in ("EventBus", "EventSource", "Sensor")) == \
        {"EventBus": 1, "EventSource": 1, "Sensor": 1}
    assert (len(of(docs, "WorkflowTemplate")), len(of(docs, "IngressRoute"))) == (n, n)
    es, sensor = one(docs, "EventSource"), one(docs, "Sensor")
    assert len(es["spec"]["github"]) == n
    assert len(sensor["spec"]["dependencies"]) == len(sensor["spec"]["triggers"]) == n
    assert ci_pods(docs) == 1 + 2
    assert ci_pods(render(tmp_path, "p", apps, {"CMP_EVENTBUS_REPLICAS": "3"})) == 3 + 2
    assert integrity_problems(docs) == []


def test_a_project_without_git_applications_has_no_ci_pods(tmp_path):
    docs = render(tmp_path, "img", [{"name": "web", "image": "nginx:1.27", "port": 80}])
    assert ci_pods(docs) == 0


def test_eventbus_is_jetstream_with_the_version_and_replicas_of_the_settings(tmp_path):
    bus = one(render(tmp_path, "p", [app("api")]), "EventBus")
    assert bus["metadata"]["name"] == "p-ci-bus"
    assert set(bus["spec"]) == {"jetstream"}
    js = bus["spec"]["jetstream"]
    assert (js["version"], js["replicas"], js["streamConfig"]) == ("2.10.29", 1, "replicas: 1")
    env = {"CMP_EVENTBUS_REPLICAS": "5", "CMP_EVENTBUS_JETSTREAM_VERSION": "2.9.16"}
    js = one(render(tmp_path, "p", [app("api")], env), "EventBus")["spec"]["jetstream"]
    assert (js["version"], js["replicas"], js["streamConfig"]) == ("2.9.16", 5, "replicas: 3")


@pytest.mark.parametrize("value", ["2", "0", "x"])
def test_eventbus_replicas_jetstream_refuses(value):
    with pytest.raises(Failure) as info:
        settings_for({"CMP_EVENTBUS_REPLICAS": value})
    assert "CMP_EVENTBUS_REPLICAS" in str(info.value)


# --------------------------------------------------------------------------- pods: security and clean-up


RESTRICTED = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def _non_root(pod_sc: dict) -> None:
    assert pod_sc["runAsNonRoot"] is True and isinstance(pod_sc["runAsUser"], int) and pod_sc["runAsUser"] > 0
    assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}


def test_argo_events_pods_run_as_non_root(tmp_path):
    docs = render(tmp_path, "p", [app("api"), app("web")])
    for doc in of(docs, "EventSource") + of(docs, "Sensor"):
        _non_root(doc["spec"]["template"]["securityContext"])
        assert doc["spec"]["template"]["container"]["securityContext"] == RESTRICTED
    js = one(docs, "EventBus")["spec"]["jetstream"]
    _non_root(js["securityContext"])
    for container in ("containerTemplate", "reloaderContainerTemplate", "metricsContainerTemplate"):
        assert js[container]["securityContext"] == RESTRICTED
    # receiving webhooks needs no Kubernetes API: the EventSource does not run as the CI account
    assert "serviceAccountName" not in one(docs, "EventSource")["spec"]["template"]
    assert one(docs, "Sensor")["spec"]["template"]["serviceAccountName"] == "p-ci-workflow-sa"


def _templates(docs, project="p", a="api"):
    wt_ = next(d for d in of(docs, "WorkflowTemplate") if d["metadata"]["name"] == wt(project, a))
    return wt_["spec"], {t["name"]: t for t in wt_["spec"]["templates"]}


def test_github_api_steps_run_as_curl_user_and_kaniko_is_the_root_exception(tmp_path):
    spec, templates = _templates(render(tmp_path, "p", [app("api")]))
    for name in ("commit-status", "update-config"):
        t = templates[name]
        _non_root(t["securityContext"])
        assert (t["securityContext"]["runAsUser"], t["securityContext"]["runAsGroup"]) == (100, 101)
        sc = t["container"]["securityContext"]
        assert {k: sc[k] for k in RESTRICTED} == RESTRICTED
        assert (sc["runAsNonRoot"], sc["runAsUser"], sc["readOnlyRootFilesystem"]) == (True, 100, True)
        assert t["container"]["command"] == ["curl"]
    build = templates["build-container"]
    assert build["container"]["command"] == ["/kaniko/executor"]
    assert build["container"]["securityContext"] == {"runAsUser": 0, "runAsNonRoot": False}
    assert build["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert "securityContext" not in spec  # would apply to the build pod too


def test_workflows_clean_up_and_keep_a_failed_build_to_read(tmp_path):
    spec, templates = _templates(render(tmp_path, "p", [app("api")]))
    assert spec["podGC"] == {"strategy": "OnPodSuccess"}
    ttl = spec["ttlStrategy"]
    assert ttl["secondsAfterFailure"] >= 24 * 3600 > ttl["secondsAfterSuccess"] > 0
    assert ttl["secondsAfterCompletion"] == ttl["secondsAfterFailure"]  # a Workflow in Error too
    assert spec["activeDeadlineSeconds"] > templates["build-container"]["activeDeadlineSeconds"] > 0


@pytest.mark.parametrize("env,want", [
    ({}, {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "2Gi"}}),
    ({"CMP_BUILD_CPU_REQUEST": "2", "CMP_BUILD_MEMORY_REQUEST": "6Gi"},
     {"requests": {"cpu": "2", "memory": "6Gi"}, "limits": {"memory": "6Gi"}}),
    ({"CMP_BUILD_CPU_REQUEST": "", "CMP_BUILD_MEMORY_REQUEST": "", "CMP_DEFAULT_MEMORY_REQUEST": "1Gi"},
     {"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}),
    ({"CMP_BUILD_CPU_REQUEST": "", "CMP_BUILD_MEMORY_REQUEST": "", "CMP_DEFAULT_CPU_REQUEST": "",
      "CMP_DEFAULT_MEMORY_REQUEST": ""}, None),
])
def test_build_resources_come_from_the_settings(tmp_path, env, want):
    _, templates = _templates(render(tmp_path, "p", [app("api", hash=HASH_B)], env))
    assert templates["build-container"]["container"].get("resources") == want
    # the GitHub API steps take the platform's defaults
    cpu, memory = env.get("CMP_DEFAULT_CPU_REQUEST", "100m"), env.get("CMP_DEFAULT_MEMORY_REQUEST", "256Mi")
    defaults = {"requests": {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}} if cpu or memory else None
    if defaults and memory:
        defaults["limits"] = {"memory": memory}
    assert templates["commit-status"]["container"].get("resources") == defaults


def test_old_per_app_names_are_gone(tmp_path):
    """The upgrade prunes the per-app EventSources and Sensors and the NATS Streaming EventBus."""
    docs = render(tmp_path, "p", [app("api", hash=HASH_A), app("web")])
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for old in (("EventBus", "p-ci-eventbus"), ("EventSource", "p-api-github-eventsource"),
                ("Sensor", "p-api-github-workflow-sensor")):
        assert old not in names
    assert {("IngressRoute", "p-api-webhook-route"), ("IngressRoute", "p-web-webhook-route")} <= names
