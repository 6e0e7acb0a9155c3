"""Rules of an application that its schema cannot say: which fields go together, env names that
two sources would both define, databases that `uses` names, cron schedules, derived names.

Each rule reads the data defensively (the schema may have failed too), so one pass reports
every problem.
"""

from __future__ import annotations


from cmp_plugin import naming
from cmp_plugin.model import wiring
from cmp_plugin.load import Loaded
from cmp_plugin.problems import Problem
from cmp_plugin.validate import cron

# Users the images or engines already own; the application's user must be another one.
RESERVED_DB_USERS = {"root", "admin", "postgres", "mysql", "default", "mongodb", "mysql_sys"}


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def app_problems(loaded: Loaded, i: int, app: dict, databases: dict[str, dict], settings) -> list[Problem]:
    at = ("applications", i)
    out: list[Problem] = []
    add = lambda path, message, rule: out.append(loaded.problem(at + path, message, rule))  # noqa: E731
    has_git, has_image = "git" in app, "image" in app
    if has_git and has_image:
        add(("image",), "give either git (built by the CI loop) or image (prebuilt), not both", "source")
    elif not has_git and not has_image:
        add((), "needs git (a repository the CI loop builds) or image (a prebuilt image)", "source")
    if "build" in app and not has_git:
        add(("build",), "build options need git: a prebuilt image is not built", "source")
    port = app.get("port")
    if _list(app.get("domains")) and port is None:
        add(("domains",), "domains need a port: the route sends traffic to it", "port")
    out += _workload_problems(loaded, at, app, app, settings)
    out += _volume_problems(loaded, at, app)
    out += _security_problems(loaded, at, app, settings)
    out += _env_problems(loaded, at, app, databases)
    seen: dict[str, tuple] = {}
    for kind in ("processes", "jobs"):
        for j, item in enumerate(_list(app.get(kind))):
            item = _dict(item)
            name = item.get("name")
            if not isinstance(name, str) or not naming.is_label(name):
                continue
            path = at + (kind, j, "name")
            if name in seen:
                out.append(loaded.problem(path, f"name {name!r} is already used on line {loaded.place(seen[name])[0]} "
                                                "(processes and jobs of an app share names)", "duplicate-name"))
            seen.setdefault(name, path)
            if kind == "processes":
                out += _workload_problems(loaded, at + (kind, j), item, app, settings)
            else:
                out += _job_problems(loaded, at + (kind, j), item)
    return out


def _workload_problems(loaded: Loaded, at: tuple, spec: dict, app: dict, settings) -> list[Problem]:
    out = []
    port = spec.get("port")
    health = _dict(spec.get("health"))
    for kind in ("http", "grpc", "tcp"):
        if kind in health and port is None:
            out.append(loaded.problem(at + ("health", kind), f"health.{kind} checks the port, and there is none; "
                                                             "give a port, or use exec or none", "port"))
    scale = _dict(spec.get("autoscale"))
    if scale and "replicas" in spec:
        out.append(loaded.problem(at + ("replicas",), "give replicas or autoscale, not both "
                                                      "(the autoscaler sets the replica count)", "scaling"))
    low, high = scale.get("min", 1), scale.get("max")
    if isinstance(low, int) and isinstance(high, int) and 1 <= high < low:
        out.append(loaded.problem(at + ("autoscale", "min"), f"min {low} is greater than max {high}", "scaling"))
    if scale:
        own, inherited = _dict(spec.get("resources")), _dict(app.get("resources")) if spec is not app else {}
        if "cpu" not in own and "cpu" not in inherited and not settings.default_cpu_request:
            out.append(loaded.problem(at + ("autoscale",), "autoscale on CPU needs a CPU request: "
                                                           "set resources.cpu", "scaling"))
    return out


def _volume_problems(loaded: Loaded, at: tuple, app: dict) -> list[Problem]:
    volumes = [(j, _dict(v)) for j, v in enumerate(_list(app.get("volumes")))]
    out = []
    if volumes and ("autoscale" in app or (isinstance(app.get("replicas"), int) and app["replicas"] > 1)):
        out.append(loaded.problem(at + ("volumes",), "a volume is ReadWriteOnce: an app with volumes runs one "
                                                     "replica (remove replicas/autoscale, or keep the data elsewhere)",
                                  "volumes"))
    if volumes and app.get("strategy") == "RollingUpdate":
        out.append(loaded.problem(at + ("strategy",), "a volume is ReadWriteOnce: a rolling update would start the new "
                                                      "pod while the old one holds the volume; use Recreate (the default "
                                                      "with volumes)", "volumes"))
    names: dict = {}
    paths: dict = {}
    for j, volume in volumes:
        for key, seen in (("name", names), ("path", paths)):
            value = volume.get(key)
            if not isinstance(value, str):
                continue
            normal = value.rstrip("/") or "/"
            if key == "path" and normal == "/":
                out.append(loaded.problem(at + ("volumes", j, key), "a volume cannot replace the container's "
                                                                     "root directory; mount it at a subdirectory", "volumes"))
                continue
            if normal in seen:
                out.append(loaded.problem(at + ("volumes", j, key), f"{key} {value!r} is already used on line "
                                                                     f"{loaded.place(seen[normal])[0]}", "duplicate-name"))
            seen.setdefault(normal, at + ("volumes", j, key))
    return out


def _security_problems(loaded: Loaded, at: tuple, app: dict, settings) -> list[Problem]:
    """Root is the platform's decision first (allow_root), then the app's (runAsRoot)."""
    out = []
    if app.get("runAsRoot") is True:
        if not settings.allow_root:
            out.append(loaded.problem(at + ("runAsRoot",), "this platform does not allow root (setting allow_root, "
                                                           "CMP_ALLOW_ROOT); set runAsUser to the image's non-root "
                                                           "user id instead", "security"))
        if "runAsUser" in app:
            out.append(loaded.problem(at + ("runAsUser",), "give runAsUser or runAsRoot, not both "
                                                           "(runAsRoot lets the image's user be root)", "security"))
    if app.get("readOnlyRootFilesystem") is True:
        for j, volume in enumerate(_list(app.get("volumes"))):
            volume = _dict(volume)
            path = volume.get("path")
            if volume.get("name") == "tmp":
                out.append(loaded.problem(at + ("volumes", j, "name"), "the name 'tmp' is taken by the /tmp emptyDir "
                                                                      "of readOnlyRootFilesystem; choose another name",
                                          "volumes"))
            if isinstance(path, str) and [p for p in path.split("/") if p not in ("", ".")] == ["tmp"]:
                out.append(loaded.problem(at + ("volumes", j, "path"), "readOnlyRootFilesystem already mounts a "
                                                                      "writable emptyDir at /tmp; mount this volume "
                                                                      "elsewhere", "volumes"))
    return out


def _job_problems(loaded: Loaded, at: tuple, job: dict) -> list[Problem]:
    out = []
    before, schedule = "before" in job, job.get("schedule")
    if before and schedule is not None:
        out.append(loaded.problem(at + ("schedule",), "give before or schedule, not both", "job"))
    elif not before and schedule is None:
        out.append(loaded.problem(at, "needs before: deploy (run during each sync) or schedule (a cron job)", "job"))
    if isinstance(schedule, str):
        reason = cron.problem(schedule)
        if reason:
            out.append(loaded.problem(at + ("schedule",), f"invalid cron schedule {schedule!r}: {reason}", "cron"))
    if "timeZone" in job and schedule is None:
        out.append(loaded.problem(at + ("timeZone",), "timeZone needs a schedule", "job"))
    return out


def _env_problems(loaded: Loaded, at: tuple, app: dict, databases: dict[str, dict]) -> list[Problem]:
    """Every env name defined once per container: secrets, the databases' variables and env."""
    out = []
    owners: dict[str, tuple] = {}  # name -> path of what defines it

    def define(name: str, path: tuple, what: str, table: dict, key: bool = False) -> None:
        if name in table:
            out.append(loaded.problem(path, f"environment variable {name} is also defined by "
                                            f"{table[name][1]} (line {loaded.place(table[name][0])[0]})",
                                      "duplicate-env", key=key))
        else:
            table[name] = (path, what)

    for j, name in enumerate(_list(app.get("secrets"))):
        if isinstance(name, str):
            define(name, at + ("secrets", j), "secrets", owners)
    used: dict[str, tuple] = {}
    for j, item in enumerate(_list(app.get("uses"))):
        name = item if isinstance(item, str) else _dict(item).get("name")
        if not isinstance(name, str):
            continue
        path = at + ("uses", j)
        if name not in databases:
            from difflib import get_close_matches  # imported only when a file has a problem

            hint = get_close_matches(name, list(databases), n=1)
            known = f"did you mean {hint[0]!r}?" if hint else (
                f"the project's databases are {', '.join(sorted(databases))}" if databases else "the project has no databases")
            out.append(loaded.problem(path, f"unknown database {name!r}; {known}", "uses"))
            continue
        if name in used:
            out.append(loaded.problem(path, f"database {name!r} is already used on line {loaded.place(used[name])[0]}",
                                      "uses"))
            continue
        used[name] = path
        prefix = _dict(item).get("prefix") or wiring.default_prefix(name)
        if isinstance(prefix, str):
            for var in wiring.use_env_names(_dict(databases[name]).get("type", ""), prefix):
                define(var, path, f"uses {name}", owners)
    for key, value in _dict(app.get("env")).items():
        define(key, at + ("env", key), "env", owners, key=True)
    # a process or job may replace the app's env, not a secret or a database variable
    base = {k: v for k, v in owners.items() if v[1] != "env"}
    for kind in ("processes", "jobs"):
        for j, item in enumerate(_list(app.get(kind))):
            for key in _dict(_dict(item).get("env")):
                if key in base:
                    out.append(loaded.problem(at + (kind, j, "env", key), f"environment variable {key} is also defined by "
                                                                          f"{base[key][1]} (line {loaded.place(base[key][0])[0]})",
                                              "duplicate-env", key=True))
    return out


def database_problems(loaded: Loaded, i: int, db: dict) -> list[Problem]:
    at = ("databases", i)
    out = []
    has_db, has_user = "database" in db, "user" in db
    if db.get("type") == "redis" and (has_db or has_user):
        out.append(loaded.problem(at + ("database" if has_db else "user",), "redis has no databases or users to create; "
                                                                             "remove database and user", "database"))
    elif has_db != has_user:
        missing = "user" if has_db else "database"
        out.append(loaded.problem(at + ("database" if has_db else "user",),
                                  f"give database and user together (add {missing})", "database"))
    user = db.get("user")
    if isinstance(user, str) and (user in RESERVED_DB_USERS or user.startswith("pg_")):
        out.append(loaded.problem(at + ("user",), f"user {user!r} is the engine's own; choose another name", "database"))
    schedule = _dict(db.get("backup")).get("schedule")
    if isinstance(schedule, str):
        reason = cron.problem(schedule)
        if reason:
            out.append(loaded.problem(at + ("backup", "schedule"), f"invalid cron schedule {schedule!r}: {reason}", "cron"))
    return out


def derived_names(project: str, app: str, item: dict) -> dict[str, dict]:
    """names of an app's processes, jobs and volumes by their path suffix, for length and clash checks."""
    out = {}
    for kind, names_of in (("processes", naming.process_names), ("jobs", naming.job_names),
                           ("volumes", naming.volume_names)):
        for j, sub in enumerate(_list(item.get(kind))):
            name = _dict(sub).get("name")
            if isinstance(name, str) and naming.is_label(name):
                out[(kind, j)] = names_of(app, name)
    return out
