"""Write a k3s-like certificate tree (server or agent) with real certificates.

Same file names, bundles (leaf followed by its CA), CA/leaf lifetimes, ``dynamic-cert.json``
Secret and ``k3s.yaml`` layout as a k3s server, so ``remedy.k3s.cert_info`` and its
benchmark run against something faithful without a real k3s.

    python bench/k3s_cert_tree.py DIR [--issued-days-ago 300]

writes ``DIR/var/lib/rancher/k3s`` and ``DIR/etc/rancher/k3s/k3s.yaml``.
"""

from __future__ import annotations

import argparse
import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LEAF_DAYS = 365
CA_DAYS = 3650
CLIENT_LEAVES = {
    "client-admin": ("system:admin", "system:masters"),
    "client-supervisor": ("system:k3s-supervisor", "system:masters"),
    "client-controller": ("system:kube-controller-manager", None),
    "client-scheduler": ("system:kube-scheduler", None),
    "client-kube-apiserver": ("system:apiserver", "system:masters"),
    "client-kube-proxy": ("system:kube-proxy", None),
    "client-k3s-controller": ("system:k3s-controller", None),
    "client-k3s-cloud-controller": ("k3s-cloud-controller-manager", None),
    "client-auth-proxy": ("system:auth-proxy", None),
}
AGENT_LEAVES = {
    "client-kubelet": ("system:node:server-0", "system:nodes"),
    "serving-kubelet": ("server-0", None),
    "client-kube-proxy": ("system:kube-proxy", None),
    "client-k3s-controller": ("system:k3s-controller", None),
}


@dataclass(frozen=True)
class Issuer:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def make_certificate(
    subject: x509.Name,
    not_before: datetime,
    days: int,
    issuer: Issuer | None = None,
    is_ca: bool = False,
) -> Issuer:
    """A certificate and its key; self-signed when ``issuer`` is None."""
    key = ec.generate_private_key(ec.SECP256R1())
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    return Issuer(cert=builder.sign(signing_key, hashes.SHA256()), key=key)


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _write_pair(
    directory: Path, name: str, leaf: Issuer, chain: tuple[x509.Certificate, ...]
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.crt").write_bytes(pem(leaf.cert, *chain))
    (directory / f"{name}.key").write_bytes(key_pem(leaf.key))
    (directory / f"{name}.key").chmod(0o600)


def _write_ca(directory: Path, name: str, issued: datetime, stamp: int) -> Issuer:
    ca = make_certificate(_name(f"k3s-{name}@{stamp}"), issued, CA_DAYS, is_ca=True)
    _write_pair(directory, name, ca, ())
    return ca


def kubeconfig_text(ca: x509.Certificate, admin: Issuer) -> str:
    """A kubeconfig laid out exactly as k3s writes ``/etc/rancher/k3s/k3s.yaml``."""

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return (
        "apiVersion: v1\nclusters:\n- cluster:\n"
        f"    certificate-authority-data: {b64(pem(ca))}\n"
        "    server: https://127.0.0.1:6443\n  name: default\n"
        "contexts:\n- context:\n    cluster: default\n    user: default\n  name: default\n"
        "current-context: default\nkind: Config\npreferences: {}\nusers:\n- name: default\n"
        "  user:\n"
        f"    client-certificate-data: {b64(pem(admin.cert))}\n"
        f"    client-key-data: {b64(key_pem(admin.key))}\n"
    )


def dynamic_cert_secret(leaf: Issuer, ca: x509.Certificate) -> str:
    """dynamiclistener's file cache: a JSON core/v1 Secret of type kubernetes.io/tls."""
    secret = {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "k3s-serving", "namespace": "kube-system"},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(pem(leaf.cert, ca)).decode(),
            "tls.key": base64.b64encode(key_pem(leaf.key)).decode(),
        },
    }
    return json.dumps(secret)


def write_server_tree(root: Path, issued: datetime, leaves_issued: datetime | None = None) -> Path:
    """Write a k3s server's certificates under ``root``; return the data dir."""
    leaves_issued = leaves_issued or issued
    stamp = int(issued.timestamp())
    data_dir = root / "var/lib/rancher/k3s"
    tls = data_dir / "server/tls"
    cas = {
        name: _write_ca(tls, name, issued, stamp)
        for name in ("client-ca", "server-ca", "request-header-ca")
    }
    for name in ("client-ca", "server-ca"):
        (tls / f"{name}.nochain.crt").write_bytes(pem(cas[name].cert))
    for name, (cn, org) in CLIENT_LEAVES.items():
        leaf = make_certificate(_name(cn, org), leaves_issued, LEAF_DAYS, cas["client-ca"])
        _write_pair(tls, name, leaf, (cas["client-ca"].cert,))
    serving = make_certificate(_name("kube-apiserver"), leaves_issued, LEAF_DAYS, cas["server-ca"])
    _write_pair(tls, "serving-kube-apiserver", serving, (cas["server-ca"].cert,))
    etcd = tls / "etcd"
    etcd_cas = {name: _write_ca(etcd, name, issued, stamp) for name in ("server-ca", "peer-ca")}
    for name, ca in (
        ("server-client", "server-ca"),
        ("peer-server-client", "peer-ca"),
        ("client", "server-ca"),
    ):
        leaf = make_certificate(_name(f"etcd-{name}"), leaves_issued, LEAF_DAYS, etcd_cas[ca])
        _write_pair(etcd, name, leaf, (etcd_cas[ca].cert,))
    loopback = make_certificate(
        _name(f"apiserver-loopback-client@{stamp}"), leaves_issued, LEAF_DAYS
    )
    _write_pair(tls / "temporary-certs", "apiserver-loopback-client__", loopback, ())
    dynamic = make_certificate(_name("k3s", "k3s"), leaves_issued, LEAF_DAYS, cas["server-ca"])
    (tls / "dynamic-cert.json").write_text(dynamic_cert_secret(dynamic, cas["server-ca"].cert))
    write_agent_dir(data_dir / "agent", cas["client-ca"], cas["server-ca"], leaves_issued)
    admin = make_certificate(
        _name("system:admin", "system:masters"), leaves_issued, LEAF_DAYS, cas["client-ca"]
    )
    kubeconfig = root / "etc/rancher/k3s/k3s.yaml"
    kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    kubeconfig.write_text(kubeconfig_text(cas["server-ca"].cert, admin))
    # A rotation backup that must not be scanned: a sibling of tls/.
    backup = data_dir / f"server/tls-{stamp}"
    backup.mkdir()
    (backup / "client-admin.crt").write_bytes((tls / "client-admin.crt").read_bytes())
    return data_dir


def write_agent_dir(agent: Path, client_ca: Issuer, server_ca: Issuer, issued: datetime) -> None:
    agent.mkdir(parents=True, exist_ok=True)
    (agent / "client-ca.crt").write_bytes(pem(client_ca.cert))
    (agent / "server-ca.crt").write_bytes(pem(server_ca.cert))
    for name, (cn, org) in AGENT_LEAVES.items():
        ca = server_ca if name.startswith("serving") else client_ca
        _write_pair(
            agent, name, make_certificate(_name(cn, org), issued, LEAF_DAYS, ca), (ca.cert,)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--issued-days-ago", type=int, default=300)
    args = parser.parse_args()
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(days=args.issued_days_ago)
    print(write_server_tree(args.root, issued))


if __name__ == "__main__":
    main()
