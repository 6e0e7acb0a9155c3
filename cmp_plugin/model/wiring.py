"""Database wiring: what `uses: [db]` puts into an application's environment.

For each database used: <PREFIX>_HOST, _PORT, _USER, _NAME (not redis), _PASSWORD and _URL.
The password and the URL are secretKeyRefs into the database's Secret, never literals. The URL
is built where the password is known: the Secret's `url` key holds the engine's usual
connection URL with the password percent-encoded by the resolver (`| urlencode`), so a
password with `@ : / % # ?` still gives a valid URL. Kubernetes' `$(VAR)` expansion could not
do that: it does not encode.
"""

from __future__ import annotations

import re

SCHEMES = {"postgres": "postgresql", "mysql": "mysql", "mongodb": "mongodb", "redis": "redis"}


def default_prefix(db: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", db.upper())


def uses_of(app: dict) -> list[dict]:
    """`uses` items as {name, prefix}, in file order."""
    out = []
    for item in app.get("uses") or ():
        if isinstance(item, str):
            item = {"name": item}
        out.append({"name": item["name"], "prefix": item.get("prefix") or default_prefix(item["name"])})
    return out


def use_env_names(db_type: str, prefix: str) -> list[str]:
    """The variables one used database defines, in the order they are rendered."""
    names = ["HOST", "PORT", "USER"] + ([] if db_type == "redis" else ["NAME"]) + ["PASSWORD", "URL"]
    return [f"{prefix}_{n}" for n in names]


def _secret_ref(name: str, secret: str, key: str) -> dict:
    """An env entry read from a Secret's key (app/_env.yaml.j2 renders it as a secretKeyRef)."""
    return {"name": name, "secret": secret, "key": key}


def database_env(db, prefix: str) -> list[dict]:
    host, port, user, name, password, url = (f"{prefix}_{n}" for n in ("HOST", "PORT", "USER", "NAME", "PASSWORD", "URL"))
    out = [{"name": host, "value": db.names["service"]}, {"name": port, "value": str(db.port)},
           {"name": user, "value": "default" if db.type == "redis" else db.db_user}]
    if db.type != "redis":
        out.append({"name": name, "value": db.db_name})
    out += [_secret_ref(password, db.names["secret"], "password"), _secret_ref(url, db.names["secret"], "url")]
    return out


def env_of(app: dict, dbs: dict) -> tuple[dict, ...]:
    """An app's environment: its databases' variables first (so `env` may refer to them as
    $(DB_HOST)), then `env` in file order."""
    out = []
    for use in uses_of(app):
        out += database_env(dbs[use["name"]], use["prefix"])
    out += [{"name": k, "value": v} for k, v in (app.get("env") or {}).items()]
    return tuple(out)


def url(db_type: str, user: str, database: str, host: str, port: int, vault_path: str, managed: bool) -> str:
    """The connection URL with a placeholder for the percent-encoded password."""
    password = f"<path:{vault_path}#password | urlencode>"
    scheme = SCHEMES[db_type]
    if db_type == "redis":
        return f"{scheme}://:{password}@{host}:{port}/0"
    out = f"{scheme}://{user}:{password}@{host}:{port}/{database}"
    if db_type == "mongodb":  # the seed-style root user lives in admin; a managed user in its database
        out += f"?authSource={database if managed else 'admin'}"
    return out
