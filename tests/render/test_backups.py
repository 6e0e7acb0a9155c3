"""Database backups: the dump commands per engine and user mode, the backup script run for real
by the shells the images use (with stand-ins for the dump tools), the rendered objects, and the
rules that refuse a backup Kubernetes could not run.

What users rely on (docs/backups.md): each dump runs the engine's own tool from the database's
image, as the administrator, with the password from the database's Secret and never on a
command line; a failed or empty dump keeps every earlier one; the newest `keep` dumps stay and
files the job did not write are left alone.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from cmp_plugin.model import backup as backup_mod
from cmp_plugin.check import check
from cmp_plugin.model import build
from cmp_plugin.pipeline import render_file, validate_text

from ._support import (docs_of, integrity_problems, name_problems, object_errors, pod_template, settings_for,
                       write_project)
from .test_audit_fixes import _expand

STAMP = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")
ADMIN_PASSWORD, PASSWORD = "adm!n pass'\"$(X)`x`", "app pass$$"  # what a shell or Kubernetes would mangle


def database(name, type, **extra):
    version = {"postgres": "16", "mysql": "8.4", "mongodb": "8.0", "redis": "7.4"}[type]
    port = {"postgres": 5432, "mysql": 3306, "mongodb": 27017, "redis": 6379}[type]
    return {"name": name, "type": type, "version": version, "port": port, "size": "1Gi", **extra}


DAILY = {"schedule": "0 3 * * *"}
# every engine, both user modes (managed: database and user given; seed-compatible otherwise)
PROJECT = {
    "applications": [{"name": "web", "image": "nginx:1.27", "port": 80, "uses": ["pg", "my"]}],
    "databases": [
        database("pg", "postgres", database="shop", user="shop", backup={**DAILY, "keep": 14, "timeZone": "Europe/Berlin"}),
        database("pgseed", "postgres", backup=DAILY),
        database("my", "mysql", database="shop", user="shop_user", backup={**DAILY, "size": "25Gi", "deadline": 600}),
        database("myseed", "mysql", backup={"schedule": "@daily", "keep": 1}),
        database("mongo", "mongodb", database="catalog", user="catalog", backup=DAILY),
        database("mongoseed", "mongodb", backup=DAILY),
        database("cache", "redis", backup={"schedule": "@every 6h", "keep": 365}),
        database("plain", "postgres"),  # no backup: no CronJob, no claim
    ],
}
BY_NAME = {d["name"]: d for d in PROJECT["databases"]}


def _db(name, project=PROJECT, env=None):
    model = build(project, "shop", settings_for(env or {}))
    return next(d for d in model.databases if d.name == name)


def _render(tmp_path, data=PROJECT, env=None, name="shop") -> list[dict]:
    text = yaml.safe_dump(data, sort_keys=False)
    settings = settings_for(env or {})
    assert [p.format() for p in validate_text(text, f"{name}.yaml", settings=settings)] == []
    return docs_of(render_file(str(write_project(tmp_path, name, text)), settings=settings, env={}))


def _get(docs, kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name!r}: {len(found)} found"
    return found[0]


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    return _render(tmp_path_factory.mktemp("backups"))


# --------------------------------------------------------------------------- the dump commands

# (database, argv, password variable, Secret key). Spelled out: a changed flag must fail a test.
ARGV = [
    ("pg", ["pg_dump", "--format=custom", "--no-password", "--host=pg", "--port=5432", "--username=postgres",
            "--dbname=shop", "--file=.partial"], "PGPASSWORD", "admin-password"),
    ("pgseed", ["pg_dump", "--format=custom", "--no-password", "--host=pgseed", "--port=5432",
                "--username=pgseed_user", "--dbname=pgseed_db", "--file=.partial"], "PGPASSWORD", "password"),
    ("my", ["mysqldump", "--host=my", "--port=3306", "--protocol=TCP", "--user=root", "--single-transaction",
            "--routines", "--triggers", "--events", "--hex-blob", "--result-file=.partial", "--databases", "shop"],
     "MYSQL_PWD", "admin-password"),
    ("myseed", ["mysqldump", "--host=myseed", "--port=3306", "--protocol=TCP", "--user=root", "--single-transaction",
                "--routines", "--triggers", "--events", "--hex-blob", "--result-file=.partial", "--databases",
                "myseed_db"], "MYSQL_PWD", "password"),
    ("mongo", ["mongodump", "--host=mongo", "--port=27017", "--username=root", "--authenticationDatabase=admin",
               "--db=catalog", "--gzip", "--archive=.partial"], "BACKUP_STDIN_PASSWORD", "admin-password"),
    ("mongoseed", ["mongodump", "--host=mongoseed", "--port=27017", "--username=mongoseed_user",
                   "--authenticationDatabase=admin", "--db=mongoseed_db", "--gzip", "--archive=.partial"],
     "BACKUP_STDIN_PASSWORD", "password"),
    ("cache", ["redis-cli", "-h", "cache", "-p", "6379", "--rdb", ".partial"], "REDISCLI_AUTH", "password"),
]


@pytest.mark.parametrize("name, argv, variable, key", ARGV, ids=[a[0] for a in ARGV])
def test_dump_argv_and_credentials(name, argv, variable, key):
    db = _db(name)
    assert list(db.backup.args) == argv
    assert list(db.backup.command) == ["sh", "-c", backup_mod.SCRIPT, "backup"]
    assert [e for e in db.backup.env if "secret" in e] == [{"name": variable, "secret": f"shop-{name}-secret", "key": key}]
    ext = {"postgres": ".dump", "mysql": ".sql", "mongodb": ".archive.gz", "redis": ".rdb"}[db.type]
    assert {e["name"]: e["value"] for e in db.backup.env if "value" in e} == {
        "BACKUP_DIR": "/backup", "BACKUP_NAME": name, "BACKUP_EXT": ext, "BACKUP_KEEP": str(BY_NAME[name]["backup"].get("keep", 7))}


def test_a_custom_port_reaches_the_dump():
    data = copy.deepcopy(PROJECT)
    for d in data["databases"]:
        d["port"] += 1000
    assert "--port=6432" in _db("pg", data).backup.args
    assert _db("cache", data).backup.args[-4:] == ("-p", "7379", "--rdb", ".partial")


def test_the_script_is_immune_to_kubernetes_expansion():
    """Kubernetes rewrites `$(NAME)` and `$$` in a command: the script must contain neither, so what
    sh receives is what backup.py says (and what the tests below run)."""
    assert "$(" not in backup_mod.SCRIPT and "$$" not in backup_mod.SCRIPT
    env = {e["name"]: "X" for e in _db("pg").backup.env}
    assert _expand(backup_mod.SCRIPT, env) == backup_mod.SCRIPT


def test_no_project_value_is_in_the_script():
    """The script is one constant; the database's names reach it only through the env."""
    for name, *_ in ARGV:
        assert _db(name).backup.command[2] == backup_mod.SCRIPT
    assert not any(n in backup_mod.SCRIPT for n in ("shop", "catalog", "pgseed"))


# --------------------------------------------------------------------------- the script, run for real

SHELLS = [s for s in ("dash", "bash", "busybox") if shutil.which(s)]
# dash is /bin/sh of the Debian and Ubuntu based images (postgres, redis, mongo); bash is /bin/sh
# of the Oracle Linux based mysql image; busybox ash of the -alpine tags (when installed here).
SHELL_ARGV = {"dash": ["dash"], "bash": ["bash", "--posix"], "busybox": ["busybox", "sh"]}

# Stands in for pg_dump, mysqldump, mongodump and redis-cli: records its argv, the password
# variables it sees and its standard input, then writes the file its argv names (or fails).
FAKE_TOOL = r"""#!/bin/sh
log="$FAKE_LOG"
: > "$log/argv"
for a in "$@"; do printf '%s\n' "$a" >> "$log/argv"; done
printf '%s' "${PGPASSWORD-unset}|${MYSQL_PWD-unset}|${REDISCLI_AUTH-unset}" > "$log/env"
cat > "$log/stdin"
pwd > "$log/cwd"
out=
prev=
for a in "$@"; do
  case "$a" in
    --file=*|--result-file=*|--archive=*) out="${a#*=}" ;;
  esac
  [ "$prev" = "--rdb" ] && out="$a"
  prev="$a"
done
[ -n "${FAKE_EXIT:-}" ] && exit "$FAKE_EXIT"
[ -n "${FAKE_EMPTY:-}" ] && { : > "$out"; exit 0; }
printf 'DUMP %s\n' "$0" > "$out"
"""


@pytest.fixture(scope="module")
def tools(tmp_path_factory) -> Path:
    bin_dir = tmp_path_factory.mktemp("bin")
    for tool in ("pg_dump", "mysqldump", "mongodump", "redis-cli"):
        path = bin_dir / tool
        path.write_text(FAKE_TOOL)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def run_backup(cronjob, shell, backup_dir: Path, log_dir: Path, tools: Path, secrets: dict, **fake):
    """The CronJob's container as the kubelet starts it (command + args, env with secretKeyRefs
    resolved, Kubernetes' $(VAR) expansion applied), with /backup at backup_dir."""
    c = pod_template(cronjob)["spec"]["containers"][0]
    env = {}
    for e in c["env"]:
        if "valueFrom" in e:
            ref = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = secrets[(ref["name"], ref["key"])]
        else:
            env[e["name"]] = _expand(e["value"], env)
    mount = next(m["mountPath"] for m in c["volumeMounts"])
    assert env["BACKUP_DIR"] == mount
    env["BACKUP_DIR"] = str(backup_dir)  # the only change: the claim is a temporary directory here
    argv = [_expand(a, env) for a in c["command"] + c.get("args", [])]
    assert argv[0] == "sh"
    env.update(PATH=f"{tools}{os.pathsep}{os.environ['PATH']}", FAKE_LOG=str(log_dir),
               **{k: str(v) for k, v in fake.items()})
    # something on standard input, so a tool that should not read it would show it in the log
    return subprocess.run(SHELL_ARGV[shell] + argv[1:], env=env, input="the container's stdin\n", capture_output=True,
                          text=True, timeout=60)


def _secrets(name):
    return {(f"shop-{name}-secret", "password"): PASSWORD, (f"shop-{name}-secret", "admin-password"): ADMIN_PASSWORD}


def _dumps(directory: Path, name: str, ext: str) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(f"{name}-") and p.name.endswith(ext)
                  and STAMP.match(p.name[len(name) + 1:-len(ext)]))


@pytest.mark.skipif(not SHELLS, reason="no POSIX shell found")
@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("name, argv, variable, key", ARGV, ids=[a[0] for a in ARGV])
def test_a_run_dumps_with_the_tool_and_the_password_off_the_command_line(name, argv, variable, key, shell, docs,
                                                                        tools, tmp_path):
    backup_dir, log = tmp_path / "backup", tmp_path / "log"
    backup_dir.mkdir(), log.mkdir()
    result = run_backup(_get(docs, "CronJob", f"shop-{name}-backup"), shell, backup_dir, log, tools, _secrets(name))
    assert result.returncode == 0, result.stderr
    ext = {"pg": ".dump", "pgseed": ".dump", "my": ".sql", "myseed": ".sql", "cache": ".rdb"}.get(name, ".archive.gz")
    written = _dumps(backup_dir, name, ext)
    assert len(written) == 1 and sorted(p.name for p in backup_dir.iterdir()) == written
    assert (backup_dir / written[0]).read_text() == f"DUMP {tools / argv[0]}\n"
    assert f"backup: wrote {written[0]}" in result.stdout
    assert (log / "argv").read_text().splitlines() == argv[1:]  # one argument each, nothing re-split
    assert (log / "cwd").read_text().strip() == str(backup_dir)
    password = ADMIN_PASSWORD if key == "admin-password" else PASSWORD
    assert not any(password in a for a in argv)
    seen = dict(zip(("PGPASSWORD", "MYSQL_PWD", "REDISCLI_AUTH"), (log / "env").read_text().split("|")))
    if variable == "BACKUP_STDIN_PASSWORD":  # mongodump reads its password prompt from standard input
        assert (log / "stdin").read_text() == password + "\n"
        assert set(seen.values()) == {"unset"}
    else:
        assert seen[variable] == password and (log / "stdin").read_text() == ""


def _stamps(n: int) -> list[str]:
    return [f"2001{m:02d}{d:02d}T0{h}0000Z" for m, d, h in [(1 + i // 28, 1 + i % 28, i % 10) for i in range(n)]]


@pytest.mark.skipif(not SHELLS, reason="no POSIX shell found")
@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("keep, old", [(3, 10), (1, 4), (7, 6), (7, 7), (2, 0)])
def test_prune_keeps_the_newest_and_nothing_else_is_touched(keep, old, shell, tools, tmp_path, docs):
    cronjob = copy.deepcopy(_get(docs, "CronJob", "shop-pg-backup"))
    for e in pod_template(cronjob)["spec"]["containers"][0]["env"]:
        if e["name"] == "BACKUP_KEEP":
            e["value"] = str(keep)
    backup_dir, log = tmp_path / "backup", tmp_path / "log"
    backup_dir.mkdir(), log.mkdir()
    earlier = [f"pg-{s}.dump" for s in _stamps(old)]
    # not this job's: another extension, another database's, hand-made copies (one stamp-like, sorting last)
    others = ["pg-20010101T000000Z.sql", "pgseed-20010101T000000Z.dump", "pg-before-upgrade.dump",
              "pg-20990101T000000Z-copy.dump", "notes.txt"]
    for name in sorted(earlier + others, reverse=True):  # creation order must not matter
        (backup_dir / name).write_text("old")
    (backup_dir / ".partial").write_text("left by a run that was stopped")
    result = run_backup(cronjob, shell, backup_dir, log, tools, _secrets("pg"))
    assert result.returncode == 0, result.stderr
    dumps = _dumps(backup_dir, "pg", ".dump")
    new = [d for d in dumps if d not in earlier]
    assert len(new) == 1 and new[0] > max(earlier, default="")
    assert dumps == (earlier + new)[-keep:]  # the newest `keep`, the new one included
    removed = [d for d in earlier if d not in dumps]
    assert [line for line in result.stdout.splitlines() if "removed" in line] == [f"backup: removed {d}" for d in removed]
    assert sorted(p.name for p in backup_dir.iterdir()) == sorted(dumps + others)
    assert all((backup_dir / o).read_text() == "old" for o in others)


@pytest.mark.skipif(not SHELLS, reason="no POSIX shell found")
@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("fake, message", [({"FAKE_EXIT": 3}, None), ({"FAKE_EMPTY": 1}, "the dump is missing or empty")])
def test_a_failed_or_empty_dump_fails_the_run_and_keeps_every_dump(fake, message, shell, tools, tmp_path, docs):
    cronjob = _get(docs, "CronJob", "shop-myseed-backup")  # keep: 1, so any pruning would show
    backup_dir, log = tmp_path / "backup", tmp_path / "log"
    backup_dir.mkdir(), log.mkdir()
    earlier = [f"myseed-{s}.sql" for s in _stamps(3)]
    for name in earlier:
        (backup_dir / name).write_text("old")
    result = run_backup(cronjob, shell, backup_dir, log, tools, _secrets("myseed"), **fake)
    assert result.returncode != 0
    if message:
        assert message in result.stderr
    assert _dumps(backup_dir, "myseed", ".sql") == earlier
    assert "removed" not in result.stdout


# --------------------------------------------------------------------------- the rendered objects

def test_every_backup_object_validates(docs):
    backups = [d for d in docs if d["metadata"]["name"].endswith("-backup")]
    assert sorted((d["kind"], d["metadata"]["name"]) for d in backups) == sorted(
        (kind, f"shop-{n}-backup") for n, *_ in ARGV for kind in ("CronJob", "PersistentVolumeClaim"))
    for doc in backups:  # kubernetes-validate, strict (CronJob and PVC are core kinds)
        assert object_errors(doc) == [], doc["metadata"]["name"]
    assert [p for d in docs for p in name_problems(d)] == []
    assert integrity_problems(docs, PROJECT) == []
    assert check(docs, vault_prefix="kv/data/shop", resolved=False) == []


def test_no_backup_renders_nothing(docs):
    assert not [d for d in docs if d["metadata"]["name"] == "shop-plain-backup"]


OFFICIAL = {"postgres": "postgres", "mysql": "mysql", "mongodb": "mongo", "redis": "redis"}  # Docker Hub images


@pytest.mark.parametrize("name", [a[0] for a in ARGV])
def test_what_the_documentation_promises(name, docs):
    spec, db = BY_NAME[name]["backup"], BY_NAME[name]
    cronjob, claim = _get(docs, "CronJob", f"shop-{name}-backup"), _get(docs, "PersistentVolumeClaim", f"shop-{name}-backup")
    sts = _get(docs, "StatefulSet", f"shop-{name}-db")
    s = cronjob["spec"]
    assert s["schedule"] == spec["schedule"] and s.get("timeZone") == spec.get("timeZone")
    assert (s["concurrencyPolicy"], s["startingDeadlineSeconds"]) == ("Forbid", 300)
    assert (s["successfulJobsHistoryLimit"], s["failedJobsHistoryLimit"]) == (3, 3)
    job = s["jobTemplate"]["spec"]
    assert (job["backoffLimit"], job["activeDeadlineSeconds"]) == (2, spec.get("deadline", 3600))
    pod = pod_template(cronjob)["spec"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 999, "runAsGroup": 999, "fsGroup": 999,
                                      "fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": {"type": "RuntimeDefault"}}
    assert "serviceAccountName" not in pod and "imagePullSecrets" not in pod
    [c] = pod["containers"]
    # the same image and version as the database: the dump tool matches the server
    assert c["image"] == sts["spec"]["template"]["spec"]["containers"][0]["image"] == OFFICIAL[db["type"]] + ":" + db["version"]
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert c["volumeMounts"] == [{"name": "backup", "mountPath": "/backup"}]
    assert pod["volumes"] == [{"name": "backup", "persistentVolumeClaim": {"claimName": f"shop-{name}-backup"}}]
    assert c["resources"] == {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "256Mi"}}  # defaults
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": spec.get("size", "10Gi")}}}
    assert claim["metadata"]["annotations"] == {"argocd.argoproj.io/sync-options": "Prune=false"}
    secret = _get(docs, "Secret", f"shop-{name}-secret")
    for e in c["env"]:
        if "valueFrom" in e:
            ref = e["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"]


def test_settings_give_the_claims_class_and_default_size(tmp_path):
    env = {"CMP_BACKUP_STORAGE_CLASS": "nas-nfs", "CMP_BACKUP_SIZE": "50Gi", "CMP_STORAGE_CLASS": "local-ssd",
           "CMP_DEFAULT_MEMORY_REQUEST": "128Mi"}
    docs = _render(tmp_path, env=env)
    assert _get(docs, "PersistentVolumeClaim", "shop-pg-backup")["spec"] == {
        "accessModes": ["ReadWriteOnce"], "storageClassName": "nas-nfs", "resources": {"requests": {"storage": "50Gi"}}}
    assert _get(docs, "PersistentVolumeClaim", "shop-my-backup")["spec"]["resources"]["requests"]["storage"] == "25Gi"
    c = pod_template(_get(docs, "CronJob", "shop-pg-backup"))["spec"]["containers"][0]
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "128Mi"}}
    for doc in docs:
        if doc["metadata"]["name"].endswith("-backup"):
            assert object_errors(doc) == []


@pytest.mark.parametrize("value", ["", "0", "0.0Gi", "10 Gi", "-1Gi", "1Gi;x", "5Gb", "1e3"])
def test_backup_size_setting_is_checked(value):
    from cmp_plugin.problems import Failure

    with pytest.raises(Failure, match="CMP_BACKUP_SIZE"):
        settings_for({"CMP_BACKUP_SIZE": value})


@pytest.mark.parametrize("value", ["10Gi", "1.5Ti", "500M", "0.5Gi", "2147483648"])
def test_backup_size_setting_takes_quantities(value):
    assert settings_for({"CMP_BACKUP_SIZE": value}).backup_size == value


# The checkers can fail: each breaks a promise above.
def _mutations():
    def pod(docs):
        return pod_template(_get(docs, "CronJob", "shop-pg-backup"))["spec"]

    def drop_claim(docs):
        docs.remove(_get(docs, "PersistentVolumeClaim", "shop-pg-backup"))

    def claim_name(docs):
        pod(docs)["volumes"][0]["persistentVolumeClaim"]["claimName"] = "shop-pg-data"

    def secret_key(docs):
        next(e for e in pod(docs)["containers"][0]["env"] if "valueFrom" in e)["valueFrom"]["secretKeyRef"]["key"] = "root"

    def overlapping_runs(docs):
        _get(docs, "CronJob", "shop-pg-backup")["spec"]["concurrencyPolicy"] = "Allow"

    def other_version(docs):
        pod(docs)["containers"][0]["image"] = "postgres:17"

    def mount(docs):
        pod(docs)["containers"][0]["volumeMounts"][0]["name"] = "dumps"

    return [("drop-claim", drop_claim, "reference"), ("claim-name", claim_name, "reference"),
            ("secret-key", secret_key, "reference"), ("overlapping-runs", overlapping_runs, None),
            ("other-version", other_version, None), ("mount", mount, None)]


MUTATIONS = _mutations()


@pytest.mark.parametrize("ident, mutate, rule", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_the_checkers_catch(ident, mutate, rule, docs):
    broken = copy.deepcopy(docs)
    mutate(broken)
    assert integrity_problems(broken, PROJECT), f"{ident}: the independent checker missed it"
    if rule is not None:
        assert rule in {p.rule for p in check(broken, vault_prefix="kv/data/shop", resolved=False)}


# --------------------------------------------------------------------------- validation

def _problems(databases, project="shop", apps=None):
    data = {"applications": apps} if apps else {}
    data["databases"] = databases
    return [(p.path, p.message) for p in validate_text(yaml.safe_dump(data, sort_keys=False), f"{project}.yaml",
                                                        settings=settings_for({}))]


@pytest.mark.parametrize("backup, path, message", [
    ({"schedule": "0 3 * * *", "keep": 0}, "databases[0].backup.keep", "0 is less than the minimum of 1"),
    ({"schedule": "0 3 * * *", "keep": 366}, "databases[0].backup.keep", "366 is greater than the maximum of 365"),
    ({"keep": 7}, "databases[0].backup", "'schedule' is a required property"),
    ({"schedule": "0 3 * *"}, "databases[0].backup.schedule",
     "invalid cron schedule '0 3 * *': expected five fields (minute hour day-of-month month day-of-week), found 4"),
    ({"schedule": "CRON_TZ=UTC 0 3 * * *"}, "databases[0].backup.schedule",
     "invalid cron schedule 'CRON_TZ=UTC 0 3 * * *': a time zone inside the schedule is refused by Kubernetes; "
     "use the job's timeZone field"),
    ({"schedule": "@daily", "timeZone": "Europe/Berlin; rm"}, "databases[0].backup.timeZone",
     "'Europe/Berlin; rm' is not an IANA time zone name such as Europe/Berlin"),
    ({"schedule": "@daily", "size": "lots"}, "databases[0].backup.size", "'lots' is not a Kubernetes quantity such as 5Gi"),
    ({"schedule": "@daily", "deadline": 0}, "databases[0].backup.deadline", "0 is less than the minimum of 1"),
    ({"schedule": "@daily", "keep": "7"}, "databases[0].backup.keep", None),
    ({"schedule": "@daily", "keep": True}, "databases[0].backup.keep", None),
    ({"schedule": "@daily", "retention": 7}, "databases[0].backup.retention",
     "unknown field 'retention'; expected one of deadline, keep, schedule, size, timeZone"),
])
def test_backup_fields_are_checked(backup, path, message):
    problems = _problems([database("db", "postgres", backup=backup)])
    assert [p for p, _ in problems] == [path], problems
    if message:
        assert problems[0][1] == message


@pytest.mark.parametrize("schedule", ["0 3 * * *", "@daily", "@every 12h", "15 1,13 * * MON-FRI", "0 */6 * * *"])
def test_valid_schedules_pass(schedule):
    assert _problems([database("db", "postgres", backup={"schedule": schedule})]) == []


def test_the_cronjob_name_limit_counts_only_with_a_backup():
    project = "p" * 22
    long_db = "d" * 26  # <p>-<db>-db = 22+1+26+3 = 52 (the StatefulSet limit), <p>-<db>-backup = 56
    assert _problems([database(long_db, "redis")], project=project) == []
    problems = _problems([database(long_db, "redis", backup=DAILY)], project=project)
    assert problems == [("databases[0].name", f"derived name '{project}-{long_db}-backup' (backup cronjob) is 56 "
                                              "characters; Kubernetes allows 52: shorten the project or this name")]
    fits = "d" * 22  # <p>-<db>-backup = 22+1+22+7 = 52
    assert _problems([database(fits, "redis", backup=DAILY)], project=project) == []


@pytest.mark.parametrize("app, kind", [
    ({"name": "shop-db", "image": "busybox:1.36", "jobs": [{"name": "backup", "command": ["x"], "schedule": "@daily"}]},
     "CronJob"),
    ({"name": "shop-db", "image": "busybox:1.36", "volumes": [{"name": "backup", "path": "/b", "size": "1Gi"}]},
     "PersistentVolumeClaim"),
])
def test_a_backup_name_another_object_derives_is_refused(app, kind):
    problems = _problems([database("db", "postgres", backup=DAILY)], apps=[app])
    line = 5  # the job or volume name, in yaml.safe_dump's layout
    assert (("databases[0].name", f"derived {kind} name 'shop-db-backup' is already derived from line {line}; "
                                  "rename to avoid the clash") in problems), problems
    assert _problems([database("db", "postgres")], apps=[app]) == []  # no backup, no clash


# --------------------------------------------------------------------------- a real PostgreSQL round trip

# docs/backups.md's restore command; the test below runs it against a real server
PG_RESTORE = ["pg_restore", "--clean", "--if-exists", "--single-transaction", "--no-password"]
PG_TOOLS = ("initdb", "pg_ctl", "psql", "pg_dump", "pg_restore")


@pytest.fixture(scope="module")
def postgres_server(tmp_path_factory):
    """A throw-away PostgreSQL server on 127.0.0.1 with password authentication (skipped when the
    server binaries are not installed). Run as `nobody` when the tests run as root: the server
    refuses root."""
    import socket
    import tempfile

    if not all(shutil.which(t) for t in PG_TOOLS):
        pytest.skip(f"PostgreSQL binaries not installed ({', '.join(PG_TOOLS)})")
    as_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"] if os.geteuid() == 0 else []
    if as_user and not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv to start PostgreSQL as another user")
    base = Path(tempfile.mkdtemp(prefix="cmp-pg-"))
    base.chmod(0o755)
    (base / "pw").write_text(ADMIN_PASSWORD + "\n")
    if as_user:
        shutil.chown(base, "nobody", "nogroup")
        shutil.chown(base / "pw", "nobody", "nogroup")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def run(*argv):
        return subprocess.run(as_user + list(argv), capture_output=True, text=True, timeout=120, cwd=base)

    init = run("initdb", "-D", str(base / "data"), "-U", "postgres", "--auth=scram-sha-256", f"--pwfile={base / 'pw'}",
               "--no-sync")
    assert init.returncode == 0, init.stderr
    start = run("pg_ctl", "-D", str(base / "data"), "-l", str(base / "log"), "-w", "-o",
                f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    assert start.returncode == 0, start.stderr + (base / "log").read_text()
    try:
        yield port
    finally:
        run("pg_ctl", "-D", str(base / "data"), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


def _psql(port, sql, user="postgres", db="postgres", password=ADMIN_PASSWORD):
    result = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(port),
                             "-U", user, "-d", db, "-c", sql], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PGPASSWORD": password})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.skipif(not SHELLS, reason="no POSIX shell found")
def test_postgres_dump_and_the_documented_restore_round_trip(postgres_server, docs, tmp_path):
    """The rendered pg_dump argv and PGPASSWORD against a real server, then docs/backups.md's
    pg_restore: the rows come back. Only the Service's host and port are pointed at the test server."""
    port = postgres_server
    _psql(port, "CREATE ROLE shop LOGIN PASSWORD 'x'")
    _psql(port, "CREATE DATABASE shop OWNER shop")
    _psql(port, "CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders VALUES (1, 'tea'), (2, 'cake')",
          user="shop", db="shop", password="x")
    cronjob = copy.deepcopy(_get(docs, "CronJob", "shop-pg-backup"))
    c = pod_template(cronjob)["spec"]["containers"][0]
    assert "--host=pg" in c["args"] and "--port=5432" in c["args"]
    c["args"] = [{"--host=pg": "--host=127.0.0.1", "--port=5432": f"--port={port}"}.get(a, a) for a in c["args"]]
    backup_dir = tmp_path / "backup"
    backup_dir.mkdir()
    result = run_backup(cronjob, SHELLS[0], backup_dir, tmp_path, Path(os.path.dirname(shutil.which("pg_dump"))),
                        _secrets("pg"))
    assert result.returncode == 0, result.stderr
    [dump] = _dumps(backup_dir, "pg", ".dump")
    assert (backup_dir / dump).read_bytes()[:5] == b"PGDMP"  # the custom format (-Fc)

    _psql(port, "DELETE FROM orders WHERE id = 1; UPDATE orders SET item = 'pie'", user="shop", db="shop", password="x")
    assert (Path(__file__).parents[2] / "docs" / "backups.md").read_text().count(" ".join(PG_RESTORE)) == 1
    restore = subprocess.run(PG_RESTORE + ["--host=127.0.0.1", f"--port={port}", "--username=postgres", "--dbname=shop",
                                           str(backup_dir / dump)], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PGPASSWORD": ADMIN_PASSWORD})
    assert restore.returncode == 0, restore.stderr
    assert _psql(port, "SELECT id, item FROM orders ORDER BY id", db="shop") == "1|tea\n2|cake"
    assert _psql(port, "SELECT tableowner FROM pg_tables WHERE tablename = 'orders'", db="shop") == "shop"
