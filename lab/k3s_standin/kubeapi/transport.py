"""HTTP/1.1 over TLS (or plain HTTP for unit tests) with chunked streaming for watches."""

from __future__ import annotations

import contextlib
import email.utils
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .auth import Identity
from .tlsio import ServingContext, TlsSocket

LOG = logging.getLogger(__name__)


@dataclass
class Request:
    """One HTTP request as handlers see it (``user`` is None for anonymous or refused certs)."""

    method: str
    path: str
    query: dict[str, str]
    headers: HTTPMessage
    body: bytes
    peer_chain_der: list[bytes] = field(default_factory=list)
    user: Identity | None = None
    auth_error: str | None = None
    peer_cert_pem: str | None = None

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None


App = Callable[[Request], Response]


def _parse_query(raw: str) -> dict[str, str]:
    from urllib.parse import parse_qsl  # noqa: PLC0415

    query: dict[str, str] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        query.setdefault(key, value)
    return query


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        if isinstance(self.request, TlsSocket):
            self.request.handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: ANN401
        LOG.debug("%s " + format, self.client_address[0], *args)

    def _read_body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        path, _, raw_query = self.path.partition("?")
        request = Request(
            method=self.command,
            path=path,
            query=_parse_query(raw_query),
            headers=self.headers,
            body=self._read_body(),
            peer_chain_der=self.request.peer_chain_der()
            if isinstance(self.request, TlsSocket)
            else [],
        )
        response = self.server.app(request)
        self._write(response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def _headers(self, response: Response) -> None:
        self.send_response_only(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Date", email.utils.formatdate(usegmt=True))
        for key, value in response.headers.items():
            self.send_header(key, value)

    def _write(self, response: Response) -> None:
        self._headers(response)
        if response.stream is None:
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            self.wfile.flush()
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        try:
            for chunk in response.stream:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (OSError, ValueError):
            self.close_connection = True
        finally:
            close = getattr(response.stream, "close", None)
            if close is not None:
                close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], app: App, tls: ServingContext | None) -> None:
        self.app = app
        self.tls = tls
        self.connections: set[Any] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        if self.tls is None:
            conn: Any = sock
        else:
            from OpenSSL import SSL  # noqa: PLC0415

            ssl_conn = SSL.Connection(self.tls.current(), sock)
            ssl_conn.set_accept_state()
            conn = TlsSocket(ssl_conn, sock)
        with self.conn_lock:
            self.connections.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:  # noqa: ANN401
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ANN401
        LOG.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self) -> None:
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            sock = conn.sock if isinstance(conn, TlsSocket) else conn
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class HttpServer:
    """Serves ``app`` on a background thread until :meth:`stop`."""

    def __init__(self, host: str, port: int, app: App, tls: ServingContext | None) -> None:
        self._server = _Server((host, port), app, tls)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="kubeapi-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=5)
