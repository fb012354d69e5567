"""Go's wording of TLS and HTTP client failures, for the log lines k3s's components write.

Python's ssl reports a failed verification with OpenSSL's reason; the operator of a real
cluster sees Go's crypto/x509 text instead, e.g. ``tls: failed to verify certificate: x509:
certificate has expired or is not yet valid: current time 2026-11-30T14:12:30Z is after
2026-11-29T14:12:30Z``. The dates come from the peer's certificate, read with a second,
unverified handshake.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from urllib.parse import urlsplit

from cryptography import x509

from k3s_standin import pki

_EXPIRED = 10  # X509_V_ERR_CERT_HAS_EXPIRED
_NOT_YET_VALID = 9  # X509_V_ERR_CERT_NOT_YET_VALID
_UNKNOWN_AUTHORITY = {2, 18, 19, 20, 21}


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expired_text(now: dt.datetime, cert: x509.Certificate) -> str:
    if now < pki.not_before(cert):
        relation = f"is before {rfc3339(pki.not_before(cert))}"
    else:
        relation = f"is after {rfc3339(pki.not_after(cert))}"
    return (
        f"x509: certificate has expired or is not yet valid: current time {rfc3339(now)} {relation}"
    )


def peer_certificate(url: str, timeout: float = 5.0) -> x509.Certificate | None:
    parts = urlsplit(url)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((parts.hostname, parts.port or 443), timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=parts.hostname) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except OSError:
        return None
    return x509.load_der_x509_certificate(der) if der else None


def verify_error(error: ssl.SSLCertVerificationError, url: str) -> str:
    code = getattr(error, "verify_code", None)
    if code in {_EXPIRED, _NOT_YET_VALID}:
        cert = peer_certificate(url)
        if cert is not None:
            return "tls: failed to verify certificate: " + expired_text(pki.utcnow(), cert)
        return (
            "tls: failed to verify certificate: x509: certificate has expired or is not yet valid"
        )
    if code in _UNKNOWN_AUTHORITY:
        return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    return f"tls: failed to verify certificate: x509: {getattr(error, 'verify_message', error)}"


def os_error_text(error: OSError, host: str) -> str:
    """net's wording of socket failures (``dial tcp 127.0.0.1:6444: connect: ...``)."""
    if isinstance(error, ConnectionRefusedError):
        return f"dial tcp {host}: connect: connection refused"
    if isinstance(error, ConnectionResetError):
        return f"read tcp {host}: read: connection reset by peer"
    if isinstance(error, TimeoutError | socket.timeout):
        return "net/http: request canceled (Client.Timeout exceeded while awaiting headers)"
    if isinstance(error, socket.gaierror):
        return f"dial tcp: lookup {host.rsplit(':', 1)[0]}: no such host"
    return f"read tcp {host}: {error.strerror or error}"


def request_error(method: str, url: str, reason: str) -> str:
    """net/http's ``*url.Error``: ``Get "https://...": <reason>``."""
    return f'{method.capitalize()} "{url}": {reason}'
