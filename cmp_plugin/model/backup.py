"""Database backups: a CronJob that dumps a database with its engine's own tool, from the
database's own image, into a PersistentVolumeClaim that keeps the newest `keep` dumps.

The dump is an argv (the container's `args`), run by one fixed shell script (the container's
`command`): the script never contains a project value, and it runs the dump as "$@", so no value
is ever parsed by a shell. The script names each dump with the UTC time, checks it is not empty,
and deletes all but the newest BACKUP_KEEP dumps; everything it needs comes from the env.
Passwords come from the database's Secret through the channel each tool reads without a
command-line flag (a flag would show in the process list): libpq's PGPASSWORD, MySQL's
MYSQL_PWD, redis-cli's REDISCLI_AUTH, and for mongodump, which has no such variable, its
password prompt, which reads standard input when that is not a terminal.
"""

from __future__ import annotations

from collections import namedtuple

from cmp_plugin import naming

# The engines' official images; db/statefulset.yaml.j2 runs the same ones (a render test
# compares every backup's image with its database's).
IMAGES = {"mysql": "mysql", "postgres": "postgres", "redis": "redis", "mongodb": "mongo"}
MOUNT = "/backup"
PARTIAL = ".partial"  # the dump in progress, relative to MOUNT; hidden from the prune pattern
EXTENSIONS = {"postgres": ".dump", "mysql": ".sql", "mongodb": ".archive.gz", "redis": ".rdb"}
DEFAULT_KEEP = 7
DEFAULT_DEADLINE = 3600

# The dump tool is "$@". Only the env is read: BACKUP_DIR, BACKUP_NAME, BACKUP_EXT, BACKUP_KEEP
# and, for mongodump, BACKUP_STDIN_PASSWORD. Kubernetes rewrites `$(...)` and `$$` in a command,
# so the script has neither (backquotes, shift); a test holds it to that.
SCRIPT = """\
set -eu
export LC_ALL=C
cd "$BACKUP_DIR"
rm -f .partial
if [ -n "${BACKUP_STDIN_PASSWORD:-}" ]; then
  printf '%s\\n' "$BACKUP_STDIN_PASSWORD" | "$@"
else
  "$@" </dev/null
fi
if [ ! -s .partial ]; then
  echo "backup: the dump is missing or empty" >&2
  exit 1
fi
file="$BACKUP_NAME-`date -u +%Y%m%dT%H%M%SZ`$BACKUP_EXT"
mv .partial "$file"
echo "backup: wrote $file"
# the dumps this job wrote, oldest first (UTC stamps sort by time); all but the newest BACKUP_KEEP go
set -- "$BACKUP_NAME"-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z"$BACKUP_EXT"
while [ "$#" -gt "$BACKUP_KEEP" ]; do
  rm -f -- "$1"
  echo "backup: removed $1"
  shift
done
"""

COMMAND = ("sh", "-c", SCRIPT, "backup")  # "backup" is the script's $0

# A backup pod runs as its database's user (Database.security): the dump tools need no other.
Backup = namedtuple("Backup", "names schedule time_zone keep deadline size storage_class image mount command args env")


def admin(db) -> tuple[str, str]:
    """(user, Secret key) a dump runs as: the administrator, who can read every object.

    Managed (database and user given): postgres' `postgres`, MySQL's and MongoDB's `root`, with
    `admin-password`. Seed-compatible: postgres' and MongoDB's administrator is the one user
    `<db>_user`, MySQL's is `root`, all with `password`. Redis has only `default`.
    """
    if db.type == "redis":
        return "default", "password"
    key = "admin-password" if db.managed else "password"
    if db.type == "mysql":
        return "root", key
    if db.type == "postgres":
        return ("postgres" if db.managed else db.db_user), key
    return ("root" if db.managed else db.db_user), key


def dump_argv(db) -> tuple[str, ...]:
    """The dump of the database the applications use, written to PARTIAL in the working directory."""
    host, port = db.names["service"], str(db.port)
    user, _ = admin(db)
    if db.type == "postgres":
        # custom format (-Fc): compressed, and pg_restore can select, reorder and --clean
        return ("pg_dump", "--format=custom", "--no-password", f"--host={host}", f"--port={port}",
                f"--username={user}", f"--dbname={db.db_name}", f"--file={PARTIAL}")
    if db.type == "mysql":
        # one consistent InnoDB snapshot without locking the tables; routines, triggers and
        # events are not dumped by default; --databases adds CREATE DATABASE and USE
        return ("mysqldump", f"--host={host}", f"--port={port}", "--protocol=TCP", f"--user={user}",
                "--single-transaction", "--routines", "--triggers", "--events", "--hex-blob",
                f"--result-file={PARTIAL}", "--databases", db.db_name)
    if db.type == "mongodb":
        return ("mongodump", f"--host={host}", f"--port={port}", f"--username={user}",
                "--authenticationDatabase=admin", f"--db={db.db_name}", "--gzip", f"--archive={PARTIAL}")
    # a point-in-time RDB snapshot, transferred the way a replica receives one
    return ("redis-cli", "-h", host, "-p", port, "--rdb", PARTIAL)


def _password_env(db) -> dict:
    _, key = admin(db)
    name = {"postgres": "PGPASSWORD", "mysql": "MYSQL_PWD", "mongodb": "BACKUP_STDIN_PASSWORD",
            "redis": "REDISCLI_AUTH"}[db.type]
    return {"name": name, "secret": db.names["secret"], "key": key}


def env(db, keep: int) -> tuple[dict, ...]:
    return ({"name": "BACKUP_DIR", "value": MOUNT}, {"name": "BACKUP_NAME", "value": db.name},
            {"name": "BACKUP_EXT", "value": EXTENSIONS[db.type]}, {"name": "BACKUP_KEEP", "value": str(keep)},
            _password_env(db))


def backup_of(spec: dict | None, project: str, db, settings) -> Backup | None:
    if not spec:
        return None
    keep = spec.get("keep", DEFAULT_KEEP)
    return Backup(names=naming.backup_names(project, db.name), schedule=spec["schedule"],
                  time_zone=spec.get("timeZone", ""), keep=keep, deadline=spec.get("deadline", DEFAULT_DEADLINE),
                  size=spec.get("size") or settings.backup_size, storage_class=settings.backup_storage_class,
                  image=f"{IMAGES[db.type]}:{db.version}", mount=MOUNT, command=COMMAND, args=dump_argv(db),
                  env=env(db, keep))
