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
import random
import threading
import time
import urllib.parse
from collections import namedtuple

import hvac
import requests

from cmp_plugin.secrets.cache import TokenCache
from cmp_plugin.secrets.config import VaultConfig
from cmp_plugin.secrets.values import TooDeep, loads_go, loads_vault

log = logging.getLogger("cmp_plugin.secrets")

ATTEMPTS = 3  # per request: the first try and two retries
ATTEMPT_TIMEOUT = 10.0  # seconds, and never past the run's deadline
RETRY_STATUS = frozenset({412, 429, 500, 502, 503, 504})
CACHE_MARGIN = 30.0  # a cached token must outlive the run's budget by this much
CHUNK = 64 * 1024  # bytes per read of a response body

# One answer, its body read in full (and within the size limit).
Answer = namedtuple("Answer", "status_code headers content")


class VaultError(Exception):
    """A read or login that failed. `fatal`: no further request can succeed in this run."""

    def __init__(self, message: str, fatal: bool = False):
        super().__init__(message)
        self.fatal = fatal


def _json(resp: Answer, parse=loads_vault):
    """The body as JSON (by default numbers kept exact); ValueError if not JSON or nested too deeply."""
    try:
        return parse(resp.content.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None


def _sealed(resp: Answer) -> bool:
    if resp.status_code != 503:
        return False
    try:
        return any("sealed" in str(e) for e in _json(resp).get("errors") or [])
    except (ValueError, AttributeError):
        return False


class Transport(hvac.adapters.RawAdapter):
    """hvac's RawAdapter (its headers, namespace, token, TLS settings and session) behind our
    retries, time budget and size limit; `request` returns an Answer for every status."""

    def __init__(self, *, vault: VaultConfig, clock, sleep, **kwargs):
        super().__init__(**kwargs)
        self.config, self.clock, self.sleep = vault, clock, sleep
        self.deadline = clock() + vault.timeout
        self.requests = 0

    def request(self, method, url, headers=None, raise_exception=True, **kwargs) -> Answer:
        # hvac's API percent-encodes path parameters (`@` `:` `+` `,` `=`), which AVP's Go client
        # sends as they are. Every URL here comes from hvac.utils.format_url, so unquoting gives
        # back exactly the path we asked for, and the request line stays AVP's.
        return self._send(method.upper(), urllib.parse.unquote(url), headers, kwargs)

    def _send(self, method: str, url: str, headers, kwargs: dict) -> Answer:
        """One request with bounded retries; raises VaultError only when no answer came back."""
        failure = ""
        resp = None
        for attempt in range(1, ATTEMPTS + 1):
            remaining = self.deadline - self.clock()
            if remaining <= 0:
                raise self._budget(method, url)
            self.requests += 1
            resp = None
            try:
                resp = self._attempt(method, url, remaining, headers, kwargs)
            except requests.exceptions.SSLError as exc:
                raise VaultError(f"TLS error talking to Vault at {self.config.addr}: {_ssl_reason(exc)}",
                                 fatal=True) from None
            except requests.exceptions.Timeout:
                failure = "no answer in time"
            except requests.exceptions.ConnectionError as exc:
                failure = _connection_reason(exc)
            except requests.exceptions.RequestException as exc:
                raise VaultError(f"cannot send {method} {url} to Vault: {type(exc).__name__}", fatal=True) from None
            log.debug("vault %s %s -> %s", method, url, resp.status_code if resp is not None else failure)
            if resp is not None:
                if 300 <= resp.status_code < 400:
                    raise VaultError(f"Vault redirected {method} {url} (HTTP {resp.status_code}); set VAULT_ADDR to"
                                     " the active node or its load balancer", fatal=True)
                if resp.status_code not in RETRY_STATUS or _sealed(resp):
                    return resp
            if attempt == ATTEMPTS:
                break
            wait = self._backoff(attempt, resp)
            if self.clock() + wait >= self.deadline:
                if resp is not None:
                    return resp
                raise self._budget(method, url)
            self.sleep(wait)
        if resp is not None:
            return resp
        raise VaultError(f"Vault is unreachable at {self.config.addr}: {failure} ({method} {url},"
                         f" {ATTEMPTS} attempts)", fatal=True)

    @staticmethod
    def _backoff(attempt: int, resp: Answer | None) -> float:
        wait = min(2.0, 0.2 * 3 ** (attempt - 1)) * random.uniform(0.75, 1.25)
        retry_after = resp.headers.get("Retry-After", "") if resp is not None else ""
        if retry_after.isascii() and retry_after.isdigit():
            wait = max(wait, min(float(retry_after), 2.0))
        return wait

    def _attempt(self, method: str, url: str, remaining: float, headers, kwargs: dict) -> Answer:
        """One request and its whole body, given up on after `remaining` seconds.

        Socket timeouts bound each read, not the whole answer: a server sending its headers or
        body a byte a second never trips them. So the exchange runs in a worker thread and we
        wait for it only until the deadline. A worker still busy then is abandoned (a daemon; the
        budget error ends the run's requests); it stops at the size limit, EOF or a read timeout.
        """
        outcome: list = []

        def work():
            try:
                outcome.append(self._exchange(method, url, min(ATTEMPT_TIMEOUT, remaining), headers, kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread as is
                outcome.append(exc)

        worker = threading.Thread(target=work, name="vault-request", daemon=True)
        worker.start()
        worker.join(remaining)
        if not outcome:
            raise self._budget(method, url)
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]

    def _exchange(self, method: str, url: str, timeout: float, headers, kwargs: dict) -> Answer:
        """Send, then read the body in chunks up to the size limit (never all of it first)."""
        limit = self.config.max_response_bytes
        resp = super().request(method, url, headers=dict(headers or {}), raise_exception=False, timeout=timeout,
                               stream=True, **kwargs)
        try:
            announced = int(resp.headers.get("Content-Length") or 0)
        except ValueError:
            announced = 0  # not a number: the check while reading still applies
        with resp:  # closes the connection if the body is not read to its end
            if announced <= limit:  # else refused before reading any of it
                body = bytearray()
                for chunk in resp.iter_content(CHUNK):  # chunked bodies announce no length
                    body += chunk
                    if len(body) > limit:
                        break
                else:
                    return Answer(resp.status_code, resp.headers, bytes(body))
        raise VaultError(f"Vault's response to {method} {url} at {self.config.addr} exceeds the {limit}-byte"
                         " limit (CMP_VAULT_MAX_RESPONSE_BYTES)")

    def _budget(self, method: str, url: str) -> VaultError:
        return VaultError(f"Vault did not answer within the time budget of {self.config.timeout:g} s"
                          f" (CMP_VAULT_TIMEOUT) for {method} {url} at {self.config.addr}", fatal=True)


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
                             fatal=_sealed(resp))
        secret = None
        if status != 204 and resp.content.strip():
            try:
                body = _json(resp)
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
            body = _json(resp)
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
        auth = _json(resp, loads_go)["auth"]  # plain numbers for the lease
        token = auth["client_token"]
        lease = auth.get("lease_duration") or 0
        uses = auth.get("num_uses") or 0
    except (ValueError, KeyError, TypeError, AttributeError):
        raise VaultError(f"{failed}: the answer has no client token", fatal=True) from None
    if not isinstance(token, str) or not token:
        raise VaultError(f"{failed}: empty client token", fatal=True)
    return token, lease, uses


def _connection_reason(exc: Exception) -> str:
    """A short cause without the exception's text (which repeats the URL and pool details)."""
    seen = exc
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror.lower()
        text = str(seen)
        for phrase in ("Connection refused", "Name or service not known", "Connection reset",
                       "Temporary failure in name resolution", "No route to host", "Remote end closed"):
            if phrase in text:
                return phrase.lower()
        seen = seen.__cause__ or seen.__context__ or (seen.args[0] if seen.args and isinstance(seen.args[0], Exception) else None)
    return "connection failed"


def _ssl_reason(exc: Exception) -> str:
    text = str(exc)
    for phrase in ("certificate verify failed", "wrong version number", "handshake failure", "unknown ca",
                   "certificate has expired", "hostname mismatch"):
        if phrase in text:
            return phrase
    return "TLS handshake failed"
