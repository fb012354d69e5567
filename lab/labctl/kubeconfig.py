"""Kubeconfigs for the lab: the admin copy fetched from the server, and minted identities.

A minted identity is a client certificate signed with the cluster's client CA, as k3s signs
its own; ``lab`` uses one for its break/status plumbing so that it still reaches the API
when the breakers have made every real kubeconfig useless.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Credentials:
    """Everything a TLS client needs to talk to the API as one identity."""

    server: str
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def parse(text: str) -> Credentials:
    """Read the current context's cluster and user out of a kubeconfig."""
    doc = yaml.safe_load(text) or {}
    current = doc.get("current-context")
    contexts = {c["name"]: c["context"] for c in doc.get("contexts") or []}
    context = contexts.get(current) or next(iter(contexts.values()), None)
    if context is None:
        raise ValueError("the kubeconfig has no context")
    cluster = _named(doc.get("clusters"), context["cluster"])["cluster"]
    user = _named(doc.get("users"), context["user"])["user"]
    return Credentials(
        server=cluster["server"],
        ca_pem=base64.b64decode(cluster.get("certificate-authority-data", "")),
        cert_pem=base64.b64decode(user.get("client-certificate-data", "")),
        key_pem=base64.b64decode(user.get("client-key-data", "")),
    )


def _named(items: list[dict[str, Any]] | None, name: str) -> dict[str, Any]:
    for item in items or []:
        if item.get("name") == name:
            return item
    raise ValueError(f"the kubeconfig does not define {name!r}")


def render(creds: Credentials, name: str = "default") -> str:
    """A kubeconfig shaped like k3s's own k3s.yaml (names 'default')."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {
                    "certificate-authority-data": _b64(creds.ca_pem),
                    "server": creds.server,
                },
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "preferences": {},
        "users": [
            {
                "name": name,
                "user": {
                    "client-certificate-data": _b64(creds.cert_pem),
                    "client-key-data": _b64(creds.key_pem),
                },
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def with_server(text: str, server: str) -> str:
    """The same kubeconfig pointing at another address (what operators do with k3s.yaml)."""
    return render(_replace_server(parse(text), server))


def _replace_server(creds: Credentials, server: str) -> Credentials:
    return Credentials(server, creds.ca_pem, creds.cert_pem, creds.key_pem)


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def issue_client_cert(
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    *,
    common_name: str,
    groups: list[str],
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> tuple[bytes, bytes]:
    """A client certificate (leaf + CA bundle, like k3s's) and its new EC key, as PEM."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    subject.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(
        serialization.Encoding.PEM
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert_pem, key_pem


def leaf_not_after(cert_pem: bytes) -> dt.datetime:
    return x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc
