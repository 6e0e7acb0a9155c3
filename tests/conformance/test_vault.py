"""`cmp-render generate` resolving `<path:...>` placeholders from a real OpenBao, set up with the
files in manifests/vault/ and logged in the way the sidecar does in the cluster: Kubernetes auth
with a projected token, role `cmp-<project>` from AVP_K8S_ROLE=cmp-{project}.

No Kubernetes API server here: a small HTTP server on 127.0.0.1 answers OpenBao's TokenReview
calls for exactly one token (the "projected token" file the sidecar reads), as the API server
would for the argocd-repo-server ServiceAccount.

One OpenBao for the module, set up once. The binding tests reach it through a recording proxy,
so "no secret was read" is checked as "no request reached Vault at all".
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import shutil
import subprocess
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import yaml

import harness
from loopback import HTTPServer
from support import SIDECARS, sidecar_bindings, with_params

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

        self.http = HTTPServer(Handler)
        self.url, self.close = self.http.url, self.http.close


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


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 in front of OpenBao that records the path of every request."""

    def __init__(self, target: str) -> None:
        self.paths: list[str] = []
        outer = self
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        class Handler(BaseHTTPRequestHandler):
            def forward(self):
                outer.paths.append(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(target + self.path, data=body or None, method=self.command,
                                                 headers=headers)
                try:
                    with opener.open(request, timeout=10) as resp:
                        status, data, kind = resp.status, resp.read(), resp.headers.get("Content-Type")
                except urllib.error.HTTPError as exc:
                    status, data, kind = exc.code, exc.read(), exc.headers.get("Content-Type")
                self.send_response(status)
                self.send_header("Content-Type", kind or "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_LIST = forward

            def log_message(self, *args):
                pass

        self.http = HTTPServer(Handler)
        self.url, self.close = self.http.url, self.http.close


@pytest.fixture(scope="module")
def vault(openbao_server, tmp_path_factory):
    """OpenBao set up with manifests/vault/*.sh for projects bravo and delta, and k8s auth (once per module)."""
    addr, root_token, bao = openbao_server.addr, openbao_server.root_token, shutil.which("bao")
    tmp_path = tmp_path_factory.mktemp("vault")
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


@pytest.fixture(scope="module")
def recorder(vault):
    """The recording proxy in front of the module's OpenBao."""
    proxy = RecordingProxy(vault[0]["VAULT_ADDR"])
    yield proxy
    proxy.close()


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


# --------------------------------------------------------------------------- bindings
# The Application `delta` (its own project, with its own Vault role and secrets) tries to get
# project bravo's secrets out of each sidecar manifests/ ships, configured as shipped. The Vault
# role follows the project the request names (cmp-{project}), so Vault alone would allow it: the
# sidecar's binding to the Application's name and namespace (CMP_BIND_APP_NAME) must refuse it.

ATTACKER, VICTIM = "delta", "bravo"
# {d}: the projects/ directory seen from the Application's spec.source.path ("" in ours, where the
# path is projects/; "../projects/" in the seed's, where it is chart/).
ATTACKS = {
    "parameter project": {"params": {"file": "{d}delta.yaml", "project": "bravo"}},
    "parameter file": {"params": {"file": "{d}bravo.yaml"}},
    "PARAM_PROJECT": {"param_vars": {"FILE": "{d}delta.yaml", "PROJECT": "bravo"}},
    "PARAM_FILE": {"param_vars": {"FILE": "{d}bravo.yaml"}},
    "ARGOCD_ENV_PROJECT": {"env": {"FILE": "{d}delta.yaml", "PROJECT": "bravo"}},
    "ARGOCD_ENV_FILE": {"env": {"FILE": "{d}bravo.yaml"}},
    "file ../projects/bravo.yaml": {"params": {"file": "../projects/bravo.yaml"}},
    "symlink named bravo.yaml": {"params": {"file": "../sneaky/bravo.yaml"}, "symlink": True},
    "HELM_ARGS -f bravo": {"env": {"HELM_ARGS": "-f ../projects/bravo.yaml"}},
    "HELM_ARGS --set project=bravo": {"env": {"HELM_ARGS": "-f ../projects/delta.yaml --set project=bravo"}},
    "HELM_ARGS --values bravo --set": {"env": {"HELM_ARGS": "--values ../projects/bravo.yaml --set project=bravo"}},
    "HELM_ARGS --values= --set=": {"env": {"HELM_ARGS": "--values=../projects/delta.yaml --set=project=bravo"}},
}
REFUSED = r"error: project 'bravo' may only be rendered by the Argo CD Application named 'bravo', not 'delta'"


def applications(config: str, our_apps: dict, seed_apps: dict) -> dict:
    """The Applications that reach this sidecar: ours for the main one, the seed's for seed-compat."""
    apps = our_apps if config == "main" else seed_apps
    assert {a["spec"]["source"]["plugin"]["name"] for a in apps.values()} == {SIDECARS[config][2]}
    return apps


def attack(app: dict, how: dict) -> tuple[dict, dict]:
    """app with its plugin inputs replaced by the attack's; returns (app, keyword arguments of run)."""
    app = copy.deepcopy(app)
    d = "" if app["spec"]["source"]["path"] == "projects" else "../projects/"
    plugin = app["spec"]["source"]["plugin"]
    plugin["parameters"] = [{"name": k, "string": v.format(d=d)} for k, v in how.get("params", {}).items()]
    plugin["env"] = [{"name": k, "value": v.format(d=d)} for k, v in how.get("env", {}).items()]
    run: dict = {}
    if "param_vars" in how:
        def param_vars(request):  # PARAM_* alone, without ARGOCD_APP_PARAMETERS
            kept = [(k, v) for k, v in request if k != "ARGOCD_APP_PARAMETERS" and not k.startswith("PARAM_")]
            return kept + [(f"PARAM_{k}", v.format(d=d)) for k, v in how["param_vars"].items()]
        run["hand_made"] = param_vars
    if how.get("symlink"):
        def link(root: Path) -> None:  # an in-tree symlink: Argo CD sends those
            (root / "sneaky").mkdir()
            (root / "sneaky" / "bravo.yaml").symlink_to("../projects/bravo.yaml")
        run["mutate"] = link
    return app, run


def sidecar(config: str, vault, recorder) -> dict:
    """The sidecar's env: Vault through the recorder, and CMP_BIND_* as the manifest sets them."""
    return dict(vault[0], VAULT_ADDR=recorder.url, **sidecar_bindings(config))


@pytest.mark.parametrize("how", ATTACKS)
@pytest.mark.parametrize("config", SIDECARS)
def test_an_application_cannot_render_another_projects_secrets(tmp_path, our_apps, seed_apps, vault, recorder,
                                                               config, how):
    values = vault[1]
    app, run = attack(applications(config, our_apps, seed_apps)[ATTACKER], ATTACKS[how])
    cmp = harness.Harness(tmp_path, sidecar_env=sidecar(config, vault, recorder))
    seen = len(recorder.paths)
    result = cmp.run(app, **run)
    assert result.stdout == b"", f"{how}: the run printed manifests (with {VICTIM}'s secrets?)"
    assert recorder.paths[seen:] == [], f"{how}: Vault was asked for {recorder.paths[seen:]}"
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert re.search(REFUSED, result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    assert not any(v in result.stderr for data in values.values() for v in data.values())


@pytest.mark.parametrize("config", SIDECARS)
def test_applications_named_after_their_project_still_resolve_their_secrets(tmp_path, our_apps, seed_apps, vault,
                                                                            recorder, config):
    values = vault[1]
    apps = applications(config, our_apps, seed_apps)
    cmp = harness.Harness(tmp_path, sidecar_env=sidecar(config, vault, recorder))
    for project in (VICTIM, ATTACKER):
        seen = len(recorder.paths)
        assert_resolved(cmp.run(apps[project]), values, project)
        assert any(p.startswith(f"/v1/kv/data/{project}/") for p in recorder.paths[seen:]), "Vault bypassed?"
