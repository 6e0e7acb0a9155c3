"""Small HTTP servers on 127.0.0.1 for the secrets tests: real HTTP, no mocks of Vault.

- CountingProxy: forwards every request to a real OpenBao and records it, so tests can count
  logins and reads and see the exact login request.
- Stub: answers from a Python function (status sequences like 500 then 200, a fake
  Kubernetes TokenReview API).
- Silent: accepts connections and never answers (a hung Vault).
- Trickle: answers, but sends part of the answer one byte at a time (alive, far too slow).
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Seen:
    """One request as it reached the server."""

    def __init__(self, method: str, path: str, query: dict, body, headers: dict):
        self.method, self.path, self.query, self.body, self.headers = method, path, query, body, headers

    def __repr__(self) -> str:
        q = f"?{urllib.parse.urlencode(self.query)}" if self.query else ""
        return f"{self.method} {self.path}{q}"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up is no error
            super().handle_error(request, client_address)


class _Server:
    def __init__(self):
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # headers and body in one write: no Nagle / delayed-ACK stalls

            def setup(self):
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parsed = urllib.parse.urlsplit(self.path)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                seen = Seen(self.command, parsed.path, dict(urllib.parse.parse_qsl(parsed.query)), body,
                            {k.lower(): v for k, v in self.headers.items()})
                with owner._lock:
                    owner.seen.append(seen)
                status, headers, payload = owner.answer(seen, raw, self.path)
                self.send_response(status)
                for k, v in headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(k, v)
                if isinstance(payload, bytes):
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                # an iterable of byte strings: sent as it comes, chunked (no length known up front)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for chunk in payload:
                        if chunk:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                            self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except ConnectionError:
                    self.close_connection = True  # the client hung up, e.g. on an oversized body

            do_GET = do_POST = do_PUT = do_DELETE = do_LIST = _handle

        self.httpd = _HTTPServer(("127.0.0.1", 0), Handler)
        self.addr = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    def answer(self, seen: Seen, raw: bytes, target: str) -> tuple[int, dict, bytes]:
        raise NotImplementedError

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def clear(self) -> None:
        with self._lock:
            self.seen.clear()

    # counting helpers
    def logins(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST" and s.path.endswith("/login")]

    def reads(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "GET"]


class CountingProxy(_Server):
    def __init__(self, target: str):
        super().__init__()
        self.target = urllib.parse.urlsplit(target)

    def answer(self, seen: Seen, raw: bytes, target: str):
        conn = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=30)
        try:
            headers = {k: v for k, v in seen.headers.items() if k not in ("host", "connection")}
            conn.request(seen.method, target, body=raw or None, headers=headers)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()


class Stub(_Server):
    """`respond(seen) -> (status, json_body_or_bytes_or_chunks[, headers])`; an iterator of bytes is
    sent chunked, each item as it is produced."""

    def __init__(self, respond):
        super().__init__()
        self.respond = respond

    def answer(self, seen: Seen, raw: bytes, target: str):
        out = self.respond(seen)
        status, body = out[0], out[1]
        headers = dict(out[2]) if len(out) > 2 else {}
        if isinstance(body, (bytes, str)):
            payload = body.encode() if isinstance(body, str) else body
        elif hasattr(body, "__next__"):
            payload = body
        else:
            payload = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        return status, headers, payload


def http_answer(body: bytes, status: str = "200 OK", length: int | None = None) -> bytes:
    """A raw HTTP/1.1 answer with a JSON body; `length` overrides the Content-Length sent."""
    size = len(body) if length is None else length
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n").encode() \
        + body


def kv2_body(data: dict, version: int = 1) -> dict:
    return {"request_id": "x", "lease_id": "", "renewable": False, "lease_duration": 0,
            "data": {"data": data, "metadata": {"version": version, "destroyed": False, "deletion_time": ""}},
            "wrap_info": None, "warnings": None, "auth": None}
