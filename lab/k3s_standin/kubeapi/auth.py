"""Client-certificate authentication the way kube-apiserver's x509 authenticator does it."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MASTERS = "system:masters"


@dataclass(frozen=True)
class Identity:
    """Who a verified client certificate names: CN is the user, O values the groups."""

    user: str
    groups: tuple[str, ...] = field(default_factory=tuple)

    def user_info(self) -> dict[str, object]:
        return {"username": self.user, "groups": [*self.groups, "system:authenticated"]}


class AuthenticationError(Exception):
    """The authenticator's error text, worded as Go's crypto/x509 and the apiserver word it."""


def _go_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hex(data: bytes) -> str:
    return ":".join(f"{b:02X}" for b in data)


def _not_before(cert: x509.Certificate) -> datetime:
    # cryptography 38 (Debian bookworm) has only the naive-UTC accessors; newer ones warn on them.
    aware = getattr(cert, "not_valid_before_utc", None)
    return aware if aware is not None else cert.not_valid_before.replace(tzinfo=UTC)


def _not_after(cert: x509.Certificate) -> datetime:
    aware = getattr(cert, "not_valid_after_utc", None)
    return aware if aware is not None else cert.not_valid_after.replace(tzinfo=UTC)


def _extension(cert: x509.Certificate, ext_type: type[x509.ExtensionType]) -> object | None:
    try:
        return cert.extensions.get_extension_for_class(ext_type).value
    except x509.ExtensionNotFound:
        return None


def certificate_identifier(cert: x509.Certificate) -> str:
    ski = _extension(cert, x509.SubjectKeyIdentifier)
    aki = _extension(cert, x509.AuthorityKeyIdentifier)
    ski_hex = _hex(ski.digest) if isinstance(ski, x509.SubjectKeyIdentifier) else ""
    aki_bytes = aki.key_identifier if isinstance(aki, x509.AuthorityKeyIdentifier) else None
    return f"SN={cert.serial_number}, SKID={ski_hex}, AKID={_hex(aki_bytes or b'')}"


def _validity_error(cert: x509.Certificate, now: datetime) -> str | None:
    if now < _not_before(cert):
        return (
            "x509: certificate has expired or is not yet valid: "
            f"current time {_go_time(now)} is before {_go_time(_not_before(cert))}"
        )
    if now > _not_after(cert):
        return (
            "x509: certificate has expired or is not yet valid: "
            f"current time {_go_time(now)} is after {_go_time(_not_after(cert))}"
        )
    return None


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(
                cert.signature,
                cert.tbs_certificate_bytes,
                padding.PKCS1v15(),
                cert.signature_hash_algorithm,  # type: ignore[arg-type]
            )
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(
                cert.signature,
                cert.tbs_certificate_bytes,
                ec.ECDSA(cert.signature_hash_algorithm),  # type: ignore[arg-type]
            )
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _allows_client_auth(cert: x509.Certificate) -> bool:
    usage = _extension(cert, x509.ExtendedKeyUsage)
    if not isinstance(usage, x509.ExtendedKeyUsage):
        return True
    allowed = list(usage)
    return ExtendedKeyUsageOID.CLIENT_AUTH in allowed or (
        x509.ObjectIdentifier("2.5.29.37.0") in allowed
    )


class ClientCertAuthenticator:
    """Verifies a presented chain against the client CA bundle at the server clock's time."""

    def __init__(self, client_ca: Path) -> None:
        self._path = client_ca
        self._stamp = 0.0
        self._roots: list[x509.Certificate] = []

    def _load_roots(self) -> list[x509.Certificate]:
        stamp = os.stat(self._path).st_mtime
        if stamp != self._stamp:
            self._roots = _load_pem_bundle(self._path.read_bytes())
            self._stamp = stamp
        return self._roots

    def authenticate(self, chain_der: list[bytes], now: datetime) -> Identity:
        certs = [x509.load_der_x509_certificate(der) for der in chain_der]
        leaf, intermediates = certs[0], certs[1:]
        ident = certificate_identifier(leaf)
        invalid = _validity_error(leaf, now)
        if invalid is not None:
            # The apiserver puts the cause first, then its own wrapping of the same cause.
            raise AuthenticationError(f"{invalid}, verifying certificate {ident} failed: {invalid}")
        error = self._chain_error(leaf, intermediates, now)
        if error is not None:
            raise AuthenticationError(f"verifying certificate {ident} failed: {error}")
        if not _allows_client_auth(leaf):
            raise AuthenticationError(
                f"verifying certificate {ident} failed: "
                "x509: certificate specifies an incompatible key usage"
            )
        return _identity(leaf)

    def _chain_error(
        self, leaf: x509.Certificate, intermediates: list[x509.Certificate], now: datetime
    ) -> str | None:
        roots = self._load_roots()
        current, pool, seen = leaf, list(intermediates), 0
        while seen < 8:
            for root in roots:
                if _signed_by(current, root):
                    return _validity_error(root, now)
            parent = next((c for c in pool if _signed_by(current, c)), None)
            if parent is None:
                return "x509: certificate signed by unknown authority"
            invalid = _validity_error(parent, now)
            if invalid is not None:
                return invalid
            pool.remove(parent)
            current, seen = parent, seen + 1
        return "x509: certificate signed by unknown authority"


def _identity(cert: x509.Certificate) -> Identity:
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return Identity(
        user=str(cns[0].value) if cns else "",
        groups=tuple(str(o.value) for o in orgs),
    )


def _load_pem_bundle(data: bytes) -> list[x509.Certificate]:
    marker = b"-----END CERTIFICATE-----"
    certs = []
    for block in data.split(marker):
        if b"-----BEGIN CERTIFICATE-----" in block:
            certs.append(x509.load_pem_x509_certificate(block.strip() + b"\n" + marker + b"\n"))
    return certs


def klog_line(severity: str, source: str, message: str, now: datetime) -> str:
    """A line as klog writes it (``E1130 14:00:00.000000 1234 authentication.go:73] ...``)."""
    local = now.astimezone(UTC)
    stamp = local.strftime("%m%d %H:%M:%S.") + f"{local.microsecond:06d}"
    return f"{severity}{stamp} {os.getpid():>7} {source}] {message}"


def log_authentication_failure(logger: logging.Logger, error: str, now: datetime) -> None:
    escaped = error.replace("\\", "\\\\").replace('"', '\\"')
    logger.error(
        klog_line(
            "E",
            "authentication.go:73",
            f'"Unable to authenticate the request" err="[{escaped}]"',
            now,
        )
    )
