"""Vault with hvac: login and KV reads through hvac's API, over a transport that keeps our promises.

Only imported when a run has placeholders to resolve (hvac and requests cost start-up time).

hvac's API does the operations: `auth.approle.login`, `auth.kubernetes.login`,
`secrets.kv.v1.read_secret`, `secrets.kv.v2.read_secret_version`. They reach Vault through
`Transport`, an hvac adapter (hvac.Client's `adapter=`), because hvac's own adapters cannot keep
these promises:

- One time budget (CMP_VAULT_TIMEOUT) over every attempt of the run, including a server that
  trickles its answer: requests' timeouts bound each socket read, not an exchange.
- Bodies streamed and capped (CMP_VAULT_MAX_RESPONSE_BYTES), refused early on Content-Length:
  hvac's adapters read the whole body first.
- Bounded retries (with Retry-After) of transient answers and broken connections; a sealed
  Vault, a redirect or a TLS error ends the run's requests: hvac does not retry.
- No hvac exception: the transport answers every status and VaultClient reads it as AVP does.
  hvac's exceptions carry the response body (it can hold secret values), parse it with the
  standard JSON parser (numbers lose exactness, deep nesting fails on the stack), and its rule
  for a KV v2 404 (only a deleted version is data) is not AVP's (any 404 with data or warnings
  is a secret). Bodies are parsed by `values.loads_vault`: exact numbers, limited nesting, so
  odd JSON is an ordinary Vault error. Every error text is ours, from the status and Vault's
  `errors` list, with credentials redacted. Secret values are never logged or put in errors.
"""

from __future__ import annotations

import logging
import time

import hvac

from cmp_plugin.secrets.cache import TokenCache
from cmp_plugin.secrets.config import VaultConfig
from cmp_plugin.secrets.transport import ATTEMPT_TIMEOUT, Answer, Transport, VaultError, json_body, sealed
from cmp_plugin.secrets.values import TooDeep, loads_go

log = logging.getLogger("cmp_plugin.secrets")

CACHE_MARGIN = 30.0  # a cached token must outlive the run's budget by this much
class VaultClient:
    def __init__(self, config: VaultConfig, *, clock=time.monotonic, now=time.time, sleep=time.sleep):
        self.config = config
        self.now = now
        self.logins = 0
        self.reads = 0
        self._token = ""
        self._from_cache = False
        self._fatal: VaultError | None = None
        self._credentials = [config.token, config.secret_id]
        self.cache = None if config.auth == "token" or not config.cache_dir else \
            TokenCache(config.cache_dir, config.cache_key())
        self._hvac = hvac.Client(
            url=config.addr,
            token="",  # never let hvac pick up VAULT_TOKEN or ~/.vault-token on its own
            verify=config.verify,
            cert=config.cert or (),  # () keeps hvac from reading VAULT_CLIENT_CERT itself
            timeout=ATTEMPT_TIMEOUT,
            namespace=config.namespace or None,
            adapter=Transport,
            allow_redirects=False,  # a redirect would carry the token to another host
            vault=config, clock=clock, sleep=sleep,  # the rest goes to Transport
        )

    @property
    def requests(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self._hvac.adapter.requests

    def close(self) -> None:
        self._hvac.adapter.close()

    # ---- public ----------------------------------------------------------------------------

    def read(self, path: str, version: str, kv: str) -> dict:
        """The key/value map at `path`, read exactly as AVP does; raises VaultError."""
        if self._fatal:
            raise self._fatal
        try:
            return self._read(path, version, kv)
        except VaultError as exc:
            if exc.fatal:
                self._fatal = exc
            raise

    # ---- reads -----------------------------------------------------------------------------

    def _read(self, path: str, version: str, kv: str) -> dict:
        self._ensure_token()
        self.reads += 1
        resp = self._get(path, version, kv)
        if resp.status_code == 403 and self._from_cache:
            # The cached token was revoked or lost its policy: log in once and retry.
            log.info("Vault refused the cached token; logging in again")
            if self.cache:
                self.cache.drop()
            self._login()
            resp = self._get(path, version, kv)
        return self._interpret(resp, path, version, kv)

    def _get(self, path: str, version: str, kv: str) -> Answer:
        """GET /v1/<path> (with ?version= on KV v2), as AVP reads it, through hvac's KV API."""
        if kv == "1":
            mount, _, rest = path.partition("/")
            return self._hvac.secrets.kv.v1.read_secret(rest, mount_point=mount)
        mount, found, rest = path.partition("/data/")
        if found:
            # Every status comes back as an Answer, so hvac's deleted-version rule never applies.
            return self._hvac.secrets.kv.v2.read_secret_version(rest, version=version or None, mount_point=mount,
                                                                raise_on_deleted_version=True)
        # AVP reads a KV v2 path without /data/ as written (and then asks "did you forget /data/?").
        # hvac's KV v2 API always inserts data/ and its logical read (Client.read) takes no query,
        # so this one read is hvac's plain GET.
        return self._hvac.adapter.get(hvac.utils.format_url("/v1/{path}", path=path),
                                      params={"version": version} if version else None)

    def _interpret(self, resp: Answer, path: str, version: str, kv: str) -> dict:
        status = resp.status_code
        if status not in (200, 204, 404):
            raise VaultError(self._http_error("GET", f"/v1/{path}", resp, version if kv == "2" else ""),
                             fatal=sealed(resp))
        secret = None
        if status != 204 and resp.content.strip():
            try:
                body = json_body(resp)
            except ValueError as exc:
                if status == 200:
                    what = f"JSON {exc}" if isinstance(exc, TooDeep) else "a body that is not JSON"
                    raise VaultError(f"Vault answered GET /v1/{path} with {what}") from None
                body = None
            if status == 200:
                secret = body if isinstance(body, dict) else {}
            elif isinstance(body, dict) and ((isinstance(body.get("data"), dict) and body["data"])
                                             or body.get("warnings")):
                secret = body  # Vault's Go client treats a 404 with data or warnings as a secret
        if secret is None:
            if version and kv == "2":
                raise VaultError(f"Could not find secrets at path {path} with version {version}")
            raise VaultError(f"Could not find secrets at path {path}")
        return _kv_data(secret, path, version, kv)

    # ---- auth ------------------------------------------------------------------------------

    def _ensure_token(self) -> None:
        if self._token:
            return
        if self.config.auth == "token":
            self._use(self.config.token)
            return
        cached = self.cache.load(self.now(), self.config.timeout + CACHE_MARGIN) if self.cache else None
        if cached:
            log.debug("using the cached Vault token")
            self._use(cached)
            self._from_cache = True
            return
        self._login()

    def _use(self, token: str) -> None:
        self._token = token
        self._hvac.token = token
        self._credentials.append(token)

    def _login(self) -> None:
        cfg = self.config
        self._from_cache = False
        self._use("")
        if cfg.auth == "k8s":
            mount, who = cfg.k8s_mount, f"Kubernetes auth, role {cfg.k8s_role}"
            jwt = self._service_account_token()
        else:
            mount, who = cfg.approle_mount, "AppRole auth"
        log.debug("logging in to Vault (%s at %s)", who, mount)
        mount_point = mount.removeprefix("auth/")  # hvac's login paths are auth/<mount_point>/login
        try:
            # use_token=False: the answer is checked here (status, token, lease) before the token is used
            if cfg.auth == "k8s":
                resp = self._hvac.auth.kubernetes.login(cfg.k8s_role, jwt, use_token=False, mount_point=mount_point)
            else:
                resp = self._hvac.auth.approle.login(cfg.role_id, cfg.secret_id, use_token=False,
                                                     mount_point=mount_point)
        except VaultError as exc:  # e.g. an oversized answer: without a token no read can succeed
            raise VaultError(str(exc), fatal=True) from None
        self.logins += 1
        if resp.status_code != 200:
            url = f"/v1/{mount}/login"
            raise VaultError(f"Vault login failed ({who} at {mount}): {self._http_error('POST', url, resp)}",
                             fatal=True)
        token, lease, uses = _login_token(resp, f"Vault login failed ({who} at {mount})")
        self._use(token)
        if not uses and self.cache:  # a token with limited uses cannot be shared between runs
            self.cache.store(token, self.now() + float(lease) if lease else None)

    def _service_account_token(self) -> str:
        path = self.config.k8s_token_path
        try:
            with open(path, encoding="utf-8") as fh:
                jwt = fh.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not readable text"
            raise VaultError(f"cannot read the Kubernetes service account token {path}: {reason}",
                             fatal=True) from None
        self._credentials.append(jwt)
        return jwt

    # ---- errors ----------------------------------------------------------------------------

    def _http_error(self, method: str, url: str, resp: Answer, version: str = "") -> str:
        errors: list[str] = []
        try:
            body = json_body(resp)
            raw = body.get("errors") if isinstance(body, dict) else None
            errors = [" ".join(str(e).split())[:300] for e in raw or []][:5]
        except ValueError:
            pass
        query = f"?version={version}" if version else ""
        listed = " ".join(f"* {e}" for e in errors) if errors else "(no error text)"
        text = f"Error making API request. URL: {method} {self.config.addr}{url}{query} Code: {resp.status_code}." \
               f" Errors: {listed}"
        return self._redact(text)

    def _redact(self, text: str) -> str:
        for secret in self._credentials:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text


def _kv_data(secret: dict, path: str, version: str, kv: str) -> dict:
    """The key/value map in a read's answer, by AVP's rules for each KV version."""
    data = secret.get("data")
    if kv == "1":
        return data if isinstance(data, dict) else {}
    if isinstance(data, dict) and "data" in data:
        inner = data["data"]
        if inner is None:
            raise VaultError(f"The secret version {version or '(latest)'} for Vault path {path} is nil"
                             " - is this version of the secret deleted?")
        if isinstance(inner, dict):
            return inner
    elif not data:
        raise VaultError(f"The Vault path: {path} is empty - did you forget to include /data/"
                         " in the Vault path for kv-v2?")
    raise VaultError(f"Could not get data from Vault, check that kv-v2 is the correct engine (path {path})")


def _login_token(resp: Answer, failed: str) -> tuple[str, float, int]:
    """(client token, lease seconds, uses) from a login answer; VaultError when there is no token."""
    try:
        auth = json_body(resp, loads_go)["auth"]  # plain numbers for the lease
        token = auth["client_token"]
        lease = auth.get("lease_duration") or 0
        uses = auth.get("num_uses") or 0
    except (ValueError, KeyError, TypeError, AttributeError):
        raise VaultError(f"{failed}: the answer has no client token", fatal=True) from None
    if not isinstance(token, str) or not token:
        raise VaultError(f"{failed}: empty client token", fatal=True)
    return token, lease, uses
