"""The :6443 listener's certificate as rancher/dynamiclistener keeps it.

k3s's supervisor port serves a certificate from dynamiclistener: CN ``k3s``, O ``k3s``, signed
by ``server-ca``, cached in ``server/tls/dynamic-cert.json`` (a JSON core/v1 Secret of type
``kubernetes.io/tls``, written 0600 by dynamiclistener's ``storage/file``) and stored in the
cluster as the Secret ``kube-system/k3s-serving``.

Guesses noted: ``tls.crt`` holds the leaf followed by the CA; the SAN annotations use
``listener.cattle.io/cn-<san>`` with characters outside ``[A-Za-z0-9._-]`` replaced by ``_``,
and the fingerprint annotation is ``SHA1=<upper-case hex>`` of the DER certificate.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from k3s_standin import pki
from k3s_standin.layout import Layout

SECRET_NAME = "k3s-serving"
SECRET_NAMESPACE = "kube-system"
_SAN_CLEAN = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class ServingCert:
    """The PEM pair the listener serves (leaf + chain, key)."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def leaf(self) -> x509.Certificate:
        return pki.split_pem_certs(self.cert_pem)[0]


def generate(
    layout: Layout, identity: pki.ServerIdentity, now: dt.datetime, key_pem: bytes | None = None
) -> ServingCert:
    """Sign a fresh serving cert with server-ca (a kept key stays the same)."""
    ca_certs = pki.load_certs(layout.tls_dir / "server-ca.crt")
    ca_key = pki.load_key(layout.tls_dir / "server-ca.key")
    key = pki.new_key()
    if key_pem is not None:
        loaded = serialization.load_pem_private_key(key_pem, password=None)
        if isinstance(loaded, type(key)):
            key = loaded
    dns, ips = identity.apiserver_sans()
    subject = pki.Subject("k3s", ("k3s",), (pki.SERVER,), dns, ips)
    leaf = pki.sign_leaf(
        subject,
        key.public_key(),
        ca_certs[0],
        ca_key,
        pki.not_before(ca_certs[0]),
        now + dt.timedelta(days=pki.LEAF_DAYS),
    )
    return ServingCert(pki.cert_pem(leaf) + pki.cert_pem(ca_certs[0]), pki.key_pem(key))


def to_secret(serving: ServingCert) -> dict[str, Any]:
    leaf = serving.leaf
    annotations = {}
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = list(san.get_values_for_type(x509.DNSName))
        names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    for name in names:
        annotations[f"listener.cattle.io/cn-{_SAN_CLEAN.sub('_', name)}"] = name
    der = leaf.public_bytes(serialization.Encoding.DER)
    annotations["listener.cattle.io/fingerprint"] = "SHA1=" + hashlib.sha1(der).hexdigest().upper()
    return {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {
            "name": SECRET_NAME,
            "namespace": SECRET_NAMESPACE,
            "creationTimestamp": None,
            "annotations": annotations,
        },
        "data": {
            "tls.crt": base64.b64encode(serving.cert_pem).decode(),
            "tls.key": base64.b64encode(serving.key_pem).decode(),
        },
        "type": "kubernetes.io/tls",
    }


def from_secret(secret: dict[str, Any]) -> ServingCert:
    data = secret.get("data") or {}
    try:
        return ServingCert(base64.b64decode(data["tls.crt"]), base64.b64decode(data["tls.key"]))
    except KeyError as missing:
        raise ValueError(f"Secret {SECRET_NAME} lacks data.{missing.args[0]}") from None


def write_file(layout: Layout, serving: ServingCert) -> None:
    """dynamiclistener's file storage: ``json.Encoder`` output (compact, trailing newline)."""
    text = json.dumps(to_secret(serving), separators=(",", ":")) + "\n"
    pki.write_private(layout.dynamic_cert, text.encode())


def read_file(layout: Layout) -> ServingCert | None:
    if not layout.dynamic_cert.exists():
        return None
    return from_secret(json.loads(layout.dynamic_cert.read_text()))


def expire(layout: Layout, serving: ServingCert, now: dt.datetime) -> ServingCert:
    """The serving-cert-expired breaker: same key and SANs, expired yesterday."""
    cas = pki.CAKeys.from_tls_dir(layout.tls_dir)
    ca_cert, ca_key = cas.issuer_of(serving.leaf)
    valid_from, valid_until = pki.year_passed_dates(now)
    leaf = pki.sign_leaf(
        pki.subject_of(serving.leaf),
        serving.leaf.public_key(),  # type: ignore[arg-type]
        ca_cert,
        ca_key,
        valid_from,
        valid_until,
    )
    return ServingCert(pki.cert_pem(leaf) + pki.cert_pem(ca_cert), serving.key_pem)
