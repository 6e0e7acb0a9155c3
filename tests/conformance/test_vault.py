"""`cmp-render generate` resolving `<path:...>` placeholders from a real OpenBao, set up with the
files in manifests/vault/ and logged in the way the sidecar does in the cluster: Kubernetes auth
with a projected token, role `cmp-<project>` from AVP_K8S_ROLE=cmp-{project}.

No Kubernetes API server here: a small HTTP server on 127.0.0.1 answers OpenBao's TokenReview
calls for exactly one token (the "projected token" file the sidecar reads), as the API server
would for the argocd-repo-server ServiceAccount.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

import harness
from support import with_params

PLACEHOLDER = re.compile(r"<path:([^#<>]+)#([^#<>|]+?)\s*(?:\|[^<>]*)?>")
SA = ("argocd", "argocd-repo-server")


def b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def projected_token() -> str:
    """A JWT shaped like a projected ServiceAccount token (audience vault); the fake API vouches for it."""
    claims = {"iss": "https://kubernetes.default.svc.cluster.local", "aud": ["vault"],
              "sub": f"system:serviceaccount:{SA[0]}:{SA[1]}", "exp": 4102444800, "iat": 1700000000,
              "kubernetes.io": {"namespace": SA[0], "serviceaccount": {"name": SA[1], "uid": "0000-sa-uid"}}}
    return ".".join([b64({"alg": "RS256", "kid": "test"}), b64(claims), b64(secrets.token_bytes(64))])


class FakeTokenReview:
    """POST /apis/authentication.k8s.io/v1/tokenreviews: authenticated only for `token`."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.reviews = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                outer.reviews += 1
                ok = self.path.startswith("/apis/authentication.k8s.io/v1/tokenreviews") and \
                    (body.get("spec") or {}).get("token") == outer.token
                status = {"authenticated": True, "audiences": ["vault"],
                          "user": {"username": f"system:serviceaccount:{SA[0]}:{SA[1]}", "uid": "0000-sa-uid",
                                   "groups": ["system:serviceaccounts", f"system:serviceaccounts:{SA[0]}"]}} \
                    if ok else {"authenticated": False, "error": "invalid bearer token"}
                data = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                   "status": status}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def placeholders(project_file: str) -> dict[str, dict[str, str]]:
    """Vault path -> {key: value} for every placeholder the project renders, with test values."""
    from cmp_plugin.pipeline import render_file

    text = render_file(str(harness.GITOPS / "projects" / project_file), secrets="keep")
    wanted: dict[str, dict[str, str]] = {}
    for path, key in PLACEHOLDER.findall(text):
        value = (json.dumps({"auths": {"registry.example.com": {"auth": b64(secrets.token_hex(8).encode())}}})
                 if "dockerconfig" in key else f"value-of-{key}-{secrets.token_hex(4)}")
        wanted.setdefault(path.strip(), {})[key.strip()] = value
    assert wanted, f"{project_file} renders no placeholders"
    return wanted


@pytest.fixture
def vault(openbao_server, openbao, tmp_path):
    """OpenBao set up with manifests/vault/*.sh for projects bravo and delta, and k8s auth."""
    addr, root_token, bao = openbao
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a stand-in cluster CA certificate")
    token = projected_token()
    api = FakeTokenReview(token)
    env = {"PATH": f"{Path(bao).parent}:/usr/bin:/bin", "VAULT_ADDR": addr, "BAO_ADDR": addr,
           "VAULT_TOKEN": root_token, "BAO_TOKEN": root_token, "VAULT": bao, "HOME": str(tmp_path)}
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=ca",
                    "-keyout", str(tmp_path / "ca.key"), "-out", str(tmp_path / "ca.crt")],
                   check=True, capture_output=True)
    scripts = harness.REPO / "manifests" / "vault"
    for argv in (["sh", str(scripts / "setup-auth.sh"), api.url, str(tmp_path / "ca.crt")],
                 ["sh", str(scripts / "setup-project.sh"), "bravo"],
                 ["sh", str(scripts / "setup-project.sh"), "delta"]):
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
    openbao_server.enable_kv("kv", 2)
    values = {}
    for project in ("bravo", "delta"):
        for path, data in placeholders(f"{project}.yaml").items():
            assert path.startswith(f"kv/data/{project}/"), path
            openbao_server.put_kv2("kv", path[len("kv/data/"):], data)
            values[path] = data
    token_file = tmp_path / "vault-token"
    token_file.write_text(token)
    sidecar = {
        "VAULT_ADDR": addr, "AVP_TYPE": "vault", "AVP_AUTH_TYPE": "k8s", "AVP_K8S_MOUNT_PATH": "auth/kubernetes",
        "AVP_K8S_ROLE": "cmp-{project}", "AVP_K8S_TOKEN_PATH": str(token_file), "CMP_TIMEOUT_SECONDS": "45",
    }
    yield sidecar, values, api
    api.close()


def assert_resolved(result: harness.Result, values: dict, project: str) -> None:
    assert result.ok, result.error
    text = result.stdout.decode()
    assert "<path:" not in text
    mine = [v for path, data in values.items() if path.startswith(f"kv/data/{project}/") for v in data.values()]
    others = [v for path, data in values.items() if not path.startswith(f"kv/data/{project}/") for v in data.values()]
    secrets_text = yaml.safe_dump([o for o in result.objects if o["kind"] == "Secret"])
    for value in mine:
        assert value in text or value in secrets_text, "a Vault value is missing from the output"
    assert not any(v in text for v in others), "another project's secret leaked into the output"


def test_the_seed_applicationset_resolves_secrets_from_openbao(tmp_path, seed_apps, vault):
    sidecar, values, api = vault
    cmp = harness.Harness(tmp_path / "seed", sidecar_env=sidecar)
    result = cmp.run(seed_apps["bravo"])  # unchanged: the seed's Applications resolve by default
    assert_resolved(result, values, "bravo")
    assert api.reviews >= 1, "OpenBao never reviewed the projected token"


def test_our_applicationset_resolves_secrets_with_the_project_role(tmp_path, our_apps, vault):
    sidecar, values, _ = vault
    cmp = harness.Harness(tmp_path / "ours", sidecar_env=dict(sidecar, CMP_BIND_APP_PROJECT="true"))
    for project in ("bravo", "delta"):
        assert_resolved(cmp.run(our_apps[project]), values, project)


def test_a_project_without_its_vault_role_fails_without_leaking(tmp_path, our_apps, vault):
    """golf has no role cmp-golf: the login fails, nothing on stdout, no secret value in the error."""
    sidecar, values, _ = vault
    cmp = harness.Harness(tmp_path / "golf", sidecar_env=sidecar)
    result = cmp.run(our_apps["golf"])
    assert result.returncode == 1 and result.stdout == b""
    assert "cmp-golf" in result.stderr or "role" in result.stderr, result.stderr
    assert not any(v in result.stderr for data in values.values() for v in data.values())


def test_a_project_role_cannot_read_another_projects_secrets(tmp_path, our_apps, vault):
    """bravo rendered with delta's role (as if bravo's file pointed at delta): Vault says no."""
    sidecar, values, _ = vault
    cmp = harness.Harness(tmp_path / "cross", sidecar_env=dict(sidecar, AVP_K8S_ROLE="cmp-delta"))
    result = cmp.run(with_params(our_apps["bravo"]))
    assert result.returncode == 1 and result.stdout == b""
    assert re.search(r"permission denied|403", result.stderr), result.stderr
    assert not any(v in result.stderr for data in values.values() for v in data.values())
