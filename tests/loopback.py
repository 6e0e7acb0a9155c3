"""Raw TCP servers on 127.0.0.1 that misbehave as a hung or slow Vault does. Use them as context
managers: `with Silent() as vault: ... vault.addr`."""

from __future__ import annotations

import socket
import threading
from http.server import ThreadingHTTPServer


class Listener:
    """Accepts connections on a free loopback port in a thread and hands each to `accepted`."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.addr = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted(conn)

    def accepted(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def closing(self) -> None:
        """What to release when the server stops, after the accepting thread has ended."""

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.closing()
        self.sock.close()


class Silent(Listener):
    """Accepts and never answers; `conns` are the connections made, `connected` is set at the first."""

    def __init__(self):
        super().__init__()
        self.conns: list[socket.socket] = []
        self.connected = threading.Event()

    def accepted(self, conn):
        self.conns.append(conn)
        self.connected.set()

    def closing(self):
        for c in self.conns:
            c.close()


class Trickle(Listener):
    """Answers each request with `fast` at once, then `slow` one byte every `delay` seconds, then
    holds the connection open: each read gets a byte in time, so no socket timeout ever fires."""

    def __init__(self, fast: bytes, slow: bytes = b"", delay: float = 0.5):
        super().__init__()
        self.fast, self.slow, self.delay = fast, slow, delay
        self.requests = 0

    def accepted(self, conn):
        self.requests += 1
        threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket):
        with conn:
            try:
                conn.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head:
                    part = conn.recv(65536)
                    if not part:
                        return
                    head += part
                conn.sendall(self.fast)
                for i in range(len(self.slow)):
                    if self._stop.wait(self.delay):
                        return
                    conn.sendall(self.slow[i:i + 1])
                self._stop.wait()
            except OSError:
                return


class HTTPServer:
    """A ThreadingHTTPServer with `handler` on a free loopback port, serving in a thread: `url`,
    and `close()` when done."""

    def __init__(self, handler) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
