"""TLS that asks for client certificates without judging them, as k3s's listener does.

Python's ``ssl`` module can only verify client certificates during the handshake, so an
expired or foreign certificate would end the connection instead of reaching the
authenticator (which must answer 401 and log why). pyOpenSSL lets the handshake accept any
certificate; :mod:`.auth` then verifies it against the client CA with the server's clock.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from pathlib import Path

from OpenSSL import SSL, crypto


def _accept_any(
    _conn: SSL.Connection, _cert: crypto.X509, _errno: int, _depth: int, _ok: int
) -> bool:
    return True


class ServingContext:
    """An OpenSSL server context; a replaced certificate file is used from the next connection."""

    def __init__(self, cert: Path, key: Path) -> None:
        self._cert = cert
        self._key = key
        self._lock = threading.Lock()
        self._stamp: tuple[float, float] | None = None
        self._context: SSL.Context | None = None

    def current(self) -> SSL.Context:
        stamp = (self._cert.stat().st_mtime, self._key.stat().st_mtime)
        with self._lock:
            if self._context is None or stamp != self._stamp:
                self._context = self._build()
                self._stamp = stamp
            return self._context

    def _build(self) -> SSL.Context:
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
        ctx.use_certificate_chain_file(str(self._cert))
        ctx.use_privatekey_file(str(self._key))
        ctx.check_privatekey()
        # Request (never require) a client certificate; no CA names are advertised so that
        # clients send whatever certificate they hold, and the authenticator can say why
        # it is refused.
        ctx.set_verify(SSL.VERIFY_PEER, _accept_any)
        ctx.set_session_id(b"k3s-standin-kubeapi")
        return ctx


class _RawTls(io.RawIOBase):
    def __init__(self, conn: SSL.Connection) -> None:
        super().__init__()
        self._conn = conn

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            return self._conn.recv_into(buffer)
        except (SSL.ZeroReturnError, SSL.SysCallError):
            return 0
        except SSL.Error as err:
            raise ConnectionResetError(str(err)) from err

    def write(self, data: bytes) -> int:  # type: ignore[override]
        try:
            self._conn.sendall(bytes(data))
        except SSL.Error as err:
            raise ConnectionResetError(str(err)) from err
        return len(data)


class TlsSocket:
    """Enough of the socket interface for ``socketserver.StreamRequestHandler``."""

    def __init__(self, conn: SSL.Connection, sock: socket.socket) -> None:
        self.conn = conn
        self.sock = sock

    def handshake(self) -> None:
        try:
            self.conn.do_handshake()
        except SSL.Error as err:
            raise ConnectionResetError(f"TLS handshake failed: {err}") from err

    def peer_chain_der(self) -> list[bytes]:
        """The client's certificate first, then any intermediates it sent."""
        chain: list[bytes] = []
        leaf = self.conn.get_peer_certificate()
        if leaf is not None:
            chain.append(crypto.dump_certificate(crypto.FILETYPE_ASN1, leaf))
        for cert in self.conn.get_peer_cert_chain() or []:
            der = crypto.dump_certificate(crypto.FILETYPE_ASN1, cert)
            if der not in chain:
                chain.append(der)
        return chain

    def makefile(self, mode: str, buffering: int = -1) -> io.BufferedIOBase:
        raw = _RawTls(self.conn)
        size = buffering if buffering and buffering > 0 else io.DEFAULT_BUFFER_SIZE
        if "r" in mode:
            return io.BufferedReader(raw, size)
        return io.BufferedWriter(raw, size)

    def sendall(self, data: bytes) -> None:
        try:
            self.conn.sendall(data)
        except SSL.Error as err:
            raise ConnectionResetError(str(err)) from err

    def settimeout(self, value: float | None) -> None:
        # OpenSSL needs a blocking socket; idle connections are closed by stop() instead.
        del value

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.sock.setsockopt(level, option, value)

    def getpeername(self) -> tuple[str, int]:
        return self.sock.getpeername()

    def shutdown(self, how: int) -> None:
        with contextlib.suppress(SSL.Error):
            self.conn.shutdown()
        with contextlib.suppress(OSError):
            self.sock.shutdown(how)

    def close(self) -> None:
        self.sock.close()
