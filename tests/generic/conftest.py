"""Fixtures of the generic plugin's tests: a gitops repository with a Helm chart and a directory
of plain manifests, both holding argocd-vault-plugin placeholders, and an OpenBao whose secrets
they name (KV v2 at kv/, below kv/data/apps/<AppProject>/<namespace>/)."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest

from openbao_plugin import KVReader, _loopback_only, openbao_server  # noqa: F401  (fixtures)

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

PASSWORD = "pw-3x<Amp&>"
PREFIXES = "kv/data/apps/{project}/{namespace}"

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "values.yaml": "replicas: 1\nimage: nginx:1.27\nsecretPath: kv/data/apps/team-a/web/db\nextraEnv: {}\n",
    "values-prod.yaml": "replicas: 3\n",
    "templates/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
          env:
            - name: DB_USER
              value: <path:{{ .Values.secretPath }}#user>
            {{- range $k, $v := .Values.extraEnv }}
            - name: {{ $k }}
              value: {{ $v | quote }}
            {{- end }}
""",
    "templates/secret.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-db
  annotations:
    avp.kubernetes.io/path: {{ .Values.secretPath }}
stringData:
  password: <password>
data:
  dsn: {{ printf "postgres://<user>:<password | urlencode>@db/%s" .Release.Name | b64enc }}
""",
    "templates/NOTES.txt": "installed {{ .Release.Name }}\n",
    "crds/widgets.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n"
                         "  name: widgets.example.com\n",
}

MANIFESTS = {
    "b.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  annotations:
    avp.kubernetes.io/path: kv/data/apps/team-a/web/db
data:
  user: <  user >
""",
    "a/secret.yml": """\
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: <path:kv/data/apps/team-a/web/db#password>
""",
}


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def gitops(tmp_path) -> Path:
    """A repository: charts/web (a Helm chart), manifests/web (plain manifests)."""
    repo = tmp_path / "gitops"
    write_tree(repo / "charts" / "web", CHART)
    write_tree(repo / "manifests" / "web", MANIFESTS)
    (repo / ".git").mkdir()
    return repo


@pytest.fixture(scope="session")
def vault(openbao_server):  # noqa: F811
    return KVReader(openbao_server, "cmp-generic", "apps", {
        "apps/team-a/web/db": {"user": "app", "password": PASSWORD},
        "apps/team-b/web/db": {"user": "other", "password": "pw-of-team-b"}}, CMP_RESOLVE_PREFIXES=PREFIXES)


def argocd_env(name="web", project="team-a", namespace="web", **plugin_env) -> dict:
    """The request variables argocd-cmp-server adds (no parameters: ARGOCD_APP_PARAMETERS null)."""
    env = {"ARGOCD_APP_NAME": name, "ARGOCD_APP_PROJECT_NAME": project, "ARGOCD_APP_NAMESPACE": namespace,
           "ARGOCD_APP_PARAMETERS": "null"}
    env.update({f"ARGOCD_ENV_{k}": v for k, v in plugin_env.items()})
    return env


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
