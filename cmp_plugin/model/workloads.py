"""An application's processes and jobs as plain data: names, commands, env, probes, resources and
security contexts (the databases' too).

The app itself is the first workload (its Deployment is `<app>-app`, as in the seed); each
entry of `processes` is another Deployment from the same image. Defaults follow Kubernetes'
guidance: a memory limit equal to the memory request (no overcommit, predictable OOM), and
no CPU limit (CFS throttling slows a busy pod even when the node has idle CPU).
"""

from __future__ import annotations

from collections import namedtuple

from cmp_plugin import naming

# name is "" for the app's main workload. replicas is None under autoscale (the HPA owns it).
Workload = namedtuple("Workload", "name names command args port service replicas autoscale resources "
                                  "probes strategy env volumes prestop disruption_budget security")

# before: True for a `before: deploy` Sync hook; schedule: cron text for a CronJob.
Job = namedtuple("Job", "name names command args env resources before schedule time_zone deadline security")

# pod and container: the securityContexts; tmp: mount an emptyDir at /tmp (read-only root).
Security = namedtuple("Security", "pod container tmp")

Volume = namedtuple("Volume", "name names path size storage_class")

DEFAULT_CPU_TARGET = 80
JOB_DEADLINE = 3600

# Today's probe of an app with a port and no `health`: a TCP check, as the seed renders it.
_LEGACY_READINESS = {"initialDelaySeconds": 20, "periodSeconds": 10, "successThreshold": 3}
_LEGACY_LIVENESS = {"initialDelaySeconds": 60, "periodSeconds": 20, "failureThreshold": 3}
# With `health`: a startup probe gives a slow start (migrations, asset compilation) five
# minutes, after which readiness and liveness run without an initial delay.
_STARTUP = {"periodSeconds": 5, "failureThreshold": 60, "timeoutSeconds": 3}
_READINESS = {"periodSeconds": 10, "failureThreshold": 3, "timeoutSeconds": 3}
_LIVENESS = {"periodSeconds": 20, "failureThreshold": 3, "timeoutSeconds": 5}


def probes(health: dict | None, port: int | None) -> dict:
    """readinessProbe, livenessProbe and startupProbe of one container ({} for none)."""
    if health is None:
        if port is None:
            return {}
        check = {"tcpSocket": {"port": port}}
        return {"readinessProbe": {**check, **_LEGACY_READINESS}, "livenessProbe": {**check, **_LEGACY_LIVENESS}}
    if "none" in health:
        return {}
    if "http" in health:
        check = {"httpGet": {"path": health["http"], "port": port}}
    elif "grpc" in health:
        check = {"grpc": {"port": port}}
    elif "tcp" in health:
        check = {"tcpSocket": {"port": port}}
    else:
        check = {"exec": {"command": list(health["exec"])}}
    return {"startupProbe": {**check, **_STARTUP}, "readinessProbe": {**check, **_READINESS},
            "livenessProbe": {**check, **_LIVENESS}}


def resources(*layers: dict | None, settings) -> dict:
    """Requests from the most specific layer that names each, then the platform's defaults."""
    cpu = memory = None
    for layer in layers:
        layer = layer or {}
        cpu = cpu if cpu is not None else layer.get("cpu")
        memory = memory if memory is not None else layer.get("memory")
    cpu = str(cpu) if cpu is not None else settings.default_cpu_request
    memory = memory if memory is not None else settings.default_memory_request
    out: dict = {}
    if cpu or memory:
        out["requests"] = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    if memory:
        out["limits"] = {"memory": memory}
    return out


# The official images' own non-root user and group (uid, gid), from their Dockerfiles; the
# Alpine variants of postgres and redis differ (docs/applications.md cites each).
DB_USERS = {"postgres": (999, 999), "mysql": (999, 999), "redis": (999, 999), "mongodb": (999, 999)}
DB_USERS_ALPINE = {"postgres": (70, 70), "redis": (999, 1000)}


def pod_security(non_root: bool, user: int | None = None, group: int | None = None,
                 fs_group: int | None = None) -> dict:
    out: dict = {"runAsNonRoot": non_root, "seccompProfile": {"type": "RuntimeDefault"}}
    if user is not None:
        out["runAsUser"] = user
    if group is not None:
        out["runAsGroup"] = group
    if fs_group is not None:
        # a volume that already has the group is not walked again on every start
        out["fsGroup"] = fs_group
        out["fsGroupChangePolicy"] = "OnRootMismatch"
    return out


def container_security(read_only: bool = False) -> dict:
    out: dict = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    if read_only:
        out["readOnlyRootFilesystem"] = True
    return out


def security_of(app: dict, own: dict | None = None) -> Security:
    """An app's workload or job: the app's ids, replaced by a process's own; root only with runAsRoot
    (validation has checked the platform allows it) and no user id."""
    ids = {k: (own or {}).get(k, app.get(k)) for k in ("runAsUser", "runAsGroup", "fsGroup")}
    root = app.get("runAsRoot") is True and ids["runAsUser"] is None
    read_only = app.get("readOnlyRootFilesystem") is True
    return Security(pod=pod_security(not root, ids["runAsUser"], ids["runAsGroup"], ids["fsGroup"]),
                    container=container_security(read_only), tmp=read_only)


def database_security(type_: str, version: str) -> Security:
    """The engine runs as its image's own user; the data volume gets that group."""
    uid, gid = (DB_USERS_ALPINE if "alpine" in version else {}).get(type_) or DB_USERS[type_]
    return Security(pod=pod_security(True, uid, gid, gid), container=container_security(), tmp=False)


def _merge_env(base: tuple, extra: dict | None) -> tuple:
    """base with `extra` applied: a name already in base is replaced in place, others appended."""
    extra = dict(extra or {})
    out = [{"name": e["name"], "value": extra.pop(e["name"])} if e["name"] in extra else e for e in base]
    return tuple(out + [{"name": k, "value": v} for k, v in extra.items()])


def _autoscale(spec: dict | None) -> dict | None:
    if not spec:
        return None
    return {"min": spec.get("min", 1), "max": spec["max"], "cpu": spec.get("cpu", DEFAULT_CPU_TARGET)}


def _workload(name: str, names: dict, spec: dict, app: dict, env: tuple, settings, volumes: tuple) -> Workload:
    port = spec.get("port")
    scale = _autoscale(spec.get("autoscale"))
    replicas = None if scale else spec.get("replicas", 1)
    most = scale["max"] if scale else replicas
    default_strategy = "Recreate" if volumes else "RollingUpdate"
    inherited = app.get("resources") if name else None  # a process inherits the app's resources
    return Workload(
        name=name, names=names, command=tuple(spec.get("command") or ()), args=tuple(spec.get("args") or ()),
        port=port, service=names["service"] if port else "", replicas=replicas, autoscale=scale,
        resources=resources(spec.get("resources"), inherited, settings=settings),
        probes=probes(spec.get("health"), port), strategy=spec.get("strategy") or default_strategy,
        env=_merge_env(env, spec.get("env")) if name else env, volumes=volumes,
        prestop=port is not None, disruption_budget=most > 1, security=security_of(app, spec),
    )


def workloads_of(app: dict, names: dict, env: tuple, settings) -> tuple[Workload, ...]:
    main_names = {k: names[k] for k in ("deployment", "pod_label", "container", "service")}
    out = [_workload("", main_names, app, app, env, settings, volumes_of(app, settings))]
    for process in app.get("processes") or ():
        out.append(_workload(process["name"], naming.process_names(app["name"], process["name"]),
                             process, app, env, settings, ()))
    return tuple(out)


def jobs_of(app: dict, env: tuple, settings) -> tuple[Job, ...]:
    return tuple(Job(
        name=job["name"], names=naming.job_names(app["name"], job["name"]), command=tuple(job["command"]),
        args=tuple(job.get("args") or ()), env=_merge_env(env, job.get("env")),
        resources=resources(job.get("resources"), app.get("resources"), settings=settings),
        before=job.get("before") == "deploy", schedule=job.get("schedule", ""), time_zone=job.get("timeZone", ""),
        deadline=job.get("deadline", JOB_DEADLINE), security=security_of(app),
    ) for job in app.get("jobs") or ())


def volumes_of(app: dict, settings) -> tuple[Volume, ...]:
    return tuple(Volume(name=v["name"], names=naming.volume_names(app["name"], v["name"]), path=v["path"],
                        size=v["size"], storage_class=settings.storage_class) for v in app.get("volumes") or ())
