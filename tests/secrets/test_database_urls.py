"""`uses`: connection URLs built where the password is known, percent-encoded, against a real
OpenBao. Every URL parses back to the password Vault holds, whatever characters it has."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
import yaml

from cmp_plugin.pipeline import render_file
from cmp_plugin.settings import load_settings

from cliutil import yaml_docs
from vault_docs import vault_env

PASSWORDS = ["p@ss:w/rd%20#frag?q=1", "simple", "sp ace+plus&amp=;,", "ünï©ødé", "%%%", "a]b[c", "'\"\\`$(X)"]
ENGINES = [("postgres", "postgresql", 5432, True), ("mysql", "mysql", 3306, True), ("mongodb", "mongodb", 27017, True),
           ("redis", "redis", 6379, False), ("postgres", "postgresql", 5432, False), ("mongodb", "mongodb", 27017, False)]


@pytest.mark.parametrize("engine,scheme,port,managed", ENGINES,
                         ids=[f"{e[0]}-{'managed' if e[3] else 'seed'}" for e in ENGINES])
def test_url_parses_back_to_the_password(world, cache_dir, tmp_path, engine, scheme, port, managed):
    db = world.unique("d")
    database = {"name": db, "type": engine, "version": "1", "port": port, "size": "1Gi"}
    if managed:
        database.update(database="appdb", user="appuser")
    project = {"applications": [{"name": "api", "image": "ghcr.io/acme/api:1.0", "port": 8080,
                                 "uses": [{"name": db, "prefix": "DATABASE"}]}], "databases": [database]}
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(project))
    env = vault_env(world.addr, cache_dir, VAULT_TOKEN=world.shop_token)
    for password in PASSWORDS:
        world.bao.put_kv2("kv", f"shop/databases/{db}", {"password": password, "admin-password": "admin-" + password})
        text = render_file(str(path), settings=load_settings({}), secrets="resolve", env=env)
        docs = yaml_docs(text)
        secret = next(d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == f"shop-{db}-secret")
        url = urlsplit(secret["stringData"]["url"])
        assert url.scheme == scheme and url.hostname == db and url.port == port
        assert unquote(url.password) == password, "the password does not survive the URL"
        assert secret["stringData"]["password"] == password
        if engine == "redis":
            assert url.username == "" and url.path == "/0"
        else:
            assert url.username == ("appuser" if managed else f"{db}_user")
            assert url.path == ("/appdb" if managed else f"/{db}_db")
        if engine == "mongodb":
            assert url.query == ("authSource=appdb" if managed else "authSource=admin")
        deployment = next(d for d in docs if d["kind"] == "Deployment")
        env_vars = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env_vars["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": f"shop-{db}-secret", "key": "url"}
        assert env_vars["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": f"shop-{db}-secret", "key": "password"}
        assert env_vars["DATABASE_HOST"]["value"] == db and env_vars["DATABASE_PORT"]["value"] == str(port)
