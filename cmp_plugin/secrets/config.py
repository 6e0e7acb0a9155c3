"""Vault settings from the environment, under argocd-vault-plugin's names.

Argo CD passes an Application's plugin env as `ARGOCD_ENV_<NAME>`; the sidecar's own env has
plain names. argocd-vault-plugin reads both, the Application's winning, so any Application could
point it at its own Vault and receive the sidecar's login token. Here:

- SIDECAR_ONLY: where credentials are sent, TLS trust, the credentials and roles themselves,
  which file is read as a credential, the path restrictions (prefixes, AVP_PATH_VALIDATION) and
  our own limits (time budget, response size). An Application can never set these; its
  `ARGOCD_ENV_` form is ignored (with a warning naming the variable, never the value).
- APP_FIRST: AVP_KV_VERSION, a per-Application choice in AVP too (it only changes how a read's
  answer is interpreted; the paths stay confined).
"""

from __future__ import annotations

import logging
import os
import re
from collections import namedtuple
from typing import Mapping

from cmp_plugin.problems import Failure, run_problem
from cmp_plugin.settings import knob_value
from cmp_plugin.secrets.documents import parse_bool

log = logging.getLogger("cmp_plugin.secrets")

APP_PREFIX = "ARGOCD_ENV_"
SIDECAR_ONLY = (
    "VAULT_ADDR", "VAULT_NAMESPACE", "VAULT_CACERT", "VAULT_CAPATH", "VAULT_SKIP_VERIFY",
    "VAULT_CLIENT_CERT", "VAULT_CLIENT_KEY", "AVP_K8S_TOKEN_PATH", "AVP_PATH_VALIDATION",
    "AVP_TYPE", "AVP_AUTH_TYPE", "VAULT_TOKEN", "AVP_K8S_ROLE", "AVP_K8S_MOUNT_PATH", "AVP_MOUNT_PATH",
    "AVP_ROLE_ID", "AVP_SECRET_ID",
    "CMP_VAULT_TIMEOUT", "CMP_VAULT_CACHE_DIR", "CMP_VAULT_TOKEN_CACHE", "CMP_VAULT_MAX_RESPONSE_BYTES",
    "CMP_RESOLVE_PREFIXES", "CMP_RESOLVE_ANY_PATH",
)
APP_FIRST = ("AVP_KV_VERSION",)

DEFAULT_K8S_MOUNT = "auth/kubernetes"
DEFAULT_APPROLE_MOUNT = "auth/approle"
DEFAULT_K8S_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"


def setting(env: Mapping[str, str], name: str) -> str:
    """The effective value of one setting ('' when unset), by the rules above."""
    plain = env.get(name) or ""
    app = env.get(APP_PREFIX + name) or ""
    if name in APP_FIRST:
        return app or plain
    if app and app != plain:
        log.warning("ignoring %s%s: it can only be set in the sidecar's environment", APP_PREFIX, name)
    return plain


# What decides which reads happen; needed before any request.
Rules = namedtuple("Rules", "kv_version path_validation")

_FIELDS = ("addr namespace verify cert auth token k8s_role k8s_mount k8s_token_path role_id secret_id"
           " approle_mount timeout max_response_bytes cache_dir").split()
_HIDDEN = ("token", "role_id", "secret_id")


class VaultConfig:
    """Connection and auth settings. repr() hides the credentials."""

    __slots__ = tuple(_FIELDS)

    def __init__(self, **values):
        for name in _FIELDS:
            setattr(self, name, values[name])

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={'***' if n in _HIDDEN and getattr(self, n) else repr(getattr(self, n))}"
                          for n in _FIELDS)
        return f"VaultConfig({shown})"

    def cache_key(self) -> tuple[str, ...]:
        """Whose token this is: a token never serves another address, namespace or role."""
        if self.auth == "k8s":
            who = (self.k8s_mount, self.k8s_role, self.k8s_token_path)
        else:
            who = (self.approle_mount, self.role_id)
        return ("v1", self.addr, self.namespace, self.auth) + who


def load_rules(env: Mapping[str, str]) -> Rules:
    problems = []
    kv = setting(env, "AVP_KV_VERSION") or "2"
    if kv not in ("1", "2"):
        problems.append(run_problem(f"AVP_KV_VERSION: Unsupported kvVersion specified ({kv!r}; use 1 or 2)"))
    pattern = None
    text = setting(env, "AVP_PATH_VALIDATION")
    if text:
        from cmp_plugin.secrets import re2  # Go's regexp syntax, as AVP compiles it

        try:
            pattern = re2.compile(text)
        except re2.RE2Error as exc:
            problems.append(run_problem(f"AVP_PATH_VALIDATION: {text} is not a valid regular expression: {exc}"))
    if problems:
        raise Failure(problems)
    return Rules(kv, pattern)


def _mount(text: str, default: str) -> str:
    text = (text or default).strip("/")
    return text if text.startswith("auth/") else "auth/" + text


def _cache_dir(env: Mapping[str, str]) -> str:
    explicit = knob_value("CMP_VAULT_CACHE_DIR", setting(env, "CMP_VAULT_CACHE_DIR"))[0]
    if explicit:
        return explicit
    xdg = env.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "cmp-plugin", "vault")
    return os.path.join("/tmp", f"cmp-plugin-{os.geteuid()}", "vault")


def load_vault_config(env: Mapping[str, str]) -> VaultConfig:
    """Connection and auth settings; raises Failure naming every bad or missing variable."""
    problems = []
    kind = setting(env, "AVP_TYPE") or "vault"
    if kind != "vault":
        problems.append(run_problem(f"Must provide a supported Vault Type, received {kind} (only vault is supported)"))
    addr = setting(env, "VAULT_ADDR").rstrip("/")
    if not addr:
        problems.append(run_problem("VAULT_ADDR is not set: the sidecar needs the Vault address"))
    elif not re.match(r"^https?://[^/?#@\s]+$", addr):
        problems.append(run_problem("VAULT_ADDR must be http(s)://HOST[:PORT] without a path"))
    verify, cert = _tls(env, problems)
    creds = {name: setting(env, name) for name in ("VAULT_TOKEN", "AVP_K8S_ROLE", "AVP_ROLE_ID", "AVP_SECRET_ID")}
    auth = _auth(setting(env, "AVP_AUTH_TYPE"), creds, problems)
    knobs = {}
    for name in ("CMP_VAULT_TIMEOUT", "CMP_VAULT_MAX_RESPONSE_BYTES", "CMP_VAULT_TOKEN_CACHE"):
        knobs[name], problem = knob_value(name, setting(env, name))
        if problem:
            problems.append(run_problem(problem, "knob"))
    if problems:
        raise Failure(problems)
    mount = setting(env, "AVP_MOUNT_PATH")
    return VaultConfig(
        addr=addr,
        namespace=setting(env, "VAULT_NAMESPACE").strip("/"),
        verify=verify,
        cert=cert,
        auth=auth,
        token=creds["VAULT_TOKEN"],
        k8s_role=creds["AVP_K8S_ROLE"],
        k8s_mount=_mount(setting(env, "AVP_K8S_MOUNT_PATH") or mount, DEFAULT_K8S_MOUNT),
        k8s_token_path=setting(env, "AVP_K8S_TOKEN_PATH") or DEFAULT_K8S_TOKEN_PATH,
        role_id=creds["AVP_ROLE_ID"],
        secret_id=creds["AVP_SECRET_ID"],
        approle_mount=_mount(mount, DEFAULT_APPROLE_MOUNT),
        timeout=knobs["CMP_VAULT_TIMEOUT"],
        max_response_bytes=knobs["CMP_VAULT_MAX_RESPONSE_BYTES"],
        cache_dir=_cache_dir(env) if knobs["CMP_VAULT_TOKEN_CACHE"] else "",  # "": no token cache
    )


def _tls(env: Mapping[str, str], problems: list) -> tuple[bool | str, str | tuple[str, str] | None]:
    """(verify, cert) as requests takes them: a CA path or a switch, and a client cert path or (cert, key)."""
    skip_text = setting(env, "VAULT_SKIP_VERIFY")
    skip = parse_bool(skip_text) if skip_text else False
    if skip is None:
        problems.append(run_problem("VAULT_SKIP_VERIFY: expected true or false"))
    verify: bool | str = setting(env, "VAULT_CACERT") or setting(env, "VAULT_CAPATH") or True
    if skip:
        verify = False
    cert_file, key_file = setting(env, "VAULT_CLIENT_CERT"), setting(env, "VAULT_CLIENT_KEY")
    if key_file and not cert_file:
        problems.append(run_problem("VAULT_CLIENT_KEY is set without VAULT_CLIENT_CERT"))
    cert = ((cert_file, key_file) if key_file else cert_file) if cert_file else None
    return verify, cert


def _auth(kind: str, creds: dict[str, str], problems: list) -> str:
    """The auth method, checked to have its credentials (AVP's messages)."""
    auth = kind or ("token" if creds["VAULT_TOKEN"] else "")
    if auth == "token" and not creds["VAULT_TOKEN"]:
        problems.append(run_problem("VAULT_TOKEN for token authentication cannot be empty"))
    elif auth == "k8s" and not creds["AVP_K8S_ROLE"]:
        problems.append(run_problem("AVP_K8S_ROLE cannot be empty when using Kubernetes Auth"))
    elif auth == "approle" and not (creds["AVP_ROLE_ID"] and creds["AVP_SECRET_ID"]):
        problems.append(run_problem("AVP_ROLE_ID and AVP_SECRET_ID for approle authentication cannot be empty"))
    elif auth not in ("token", "k8s", "approle"):
        problems.append(run_problem(
            f"Must provide a supported Authentication Type, received {auth} (AVP_AUTH_TYPE: token, k8s or approle)"))
    return auth
