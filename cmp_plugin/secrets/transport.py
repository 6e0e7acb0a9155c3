"""The transport under hvac: hvac's RawAdapter (its headers, namespace, token, TLS settings and
session) behind the promises hvac's own adapters cannot keep (see `client`): one time budget over
every attempt, bodies streamed and capped, bounded retries, and an Answer for every status.
"""

from __future__ import annotations

import logging
import random
import threading
import urllib.parse
from collections import namedtuple

import hvac
import requests

from cmp_plugin.secrets.config import VaultConfig
from cmp_plugin.secrets.values import loads_vault

log = logging.getLogger("cmp_plugin.secrets")

ATTEMPTS = 3  # per request: the first try and two retries
ATTEMPT_TIMEOUT = 10.0  # seconds, and never past the run's deadline
RETRY_STATUS = frozenset({412, 429, 500, 502, 503, 504})
CHUNK = 64 * 1024  # bytes per read of a response body

# One answer, its body read in full (and within the size limit).
Answer = namedtuple("Answer", "status_code headers content")


class VaultError(Exception):
    """A read or login that failed. `fatal`: no further request can succeed in this run."""

    def __init__(self, message: str, fatal: bool = False):
        super().__init__(message)
        self.fatal = fatal


def json_body(resp: Answer, parse=loads_vault):
    """The body as JSON (by default numbers kept exact); ValueError if not JSON or nested too deeply."""
    try:
        return parse(resp.content.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None


def sealed(resp: Answer) -> bool:
    if resp.status_code != 503:
        return False
    try:
        return any("sealed" in str(e) for e in json_body(resp).get("errors") or [])
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
                if resp.status_code not in RETRY_STATUS or sealed(resp):
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
