"""The k3s certificate tree: CAs, leaves, renewal on start, and the lab's re-signing.

Names, subjects and layout follow k3s's ``pkg/daemons/control/deps/deps.go`` and
rancher/dynamiclistener's ``cert`` package:

* CAs are self-signed ECDSA P-256, CN ``<prefix>-ca@<unix time>``, valid 10 years;
* leaves are ECDSA P-256, ``NotBefore`` = the CA's ``NotBefore``, ``NotAfter`` = now + 365 days
  (``CATTLE_NEW_SIGNED_CERT_EXPIRATION_DAYS``), written as leaf + CA bundles;
* at every server start a leaf that is expired, inside the renewal window, or no longer signed
  by its CA is re-issued.

Decision (brief): renewal keeps each leaf's existing key; some k3s releases generate a new key
at renewal, which no client in the lab can tell apart.

Everything takes ``now`` explicitly so tests and the lab's breakers can move time.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from k3s_standin.layout import Layout

LEAF_DAYS = 365
CA_DAYS = 3650
UTC = dt.UTC

CLIENT = "client"
SERVER = "server"
_EKU = {CLIENT: ExtendedKeyUsageOID.CLIENT_AUTH, SERVER: ExtendedKeyUsageOID.SERVER_AUTH}

PrivateKey = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class CASpec:
    name: str  # path below server/tls without extension
    prefix: str  # CN is "<prefix>-ca@<unix time>"


@dataclass(frozen=True)
class LeafSpec:
    name: str  # path below server/tls without extension
    common_name: str
    organizations: tuple[str, ...]
    ca: str
    usages: tuple[str, ...]
    sans: str = ""  # "", "apiserver" or "etcd"


SERVER_CAS: tuple[CASpec, ...] = (
    CASpec("client-ca", "k3s-client"),
    CASpec("server-ca", "k3s-server"),
    CASpec("request-header-ca", "k3s-request-header"),
    CASpec("etcd/server-ca", "etcd-server"),
    CASpec("etcd/peer-ca", "etcd-peer"),
)

_MASTERS = ("system:masters",)
SERVER_LEAVES: tuple[LeafSpec, ...] = (
    LeafSpec("client-admin", "system:admin", _MASTERS, "client-ca", (CLIENT,)),
    LeafSpec("client-supervisor", "system:k3s-supervisor", _MASTERS, "client-ca", (CLIENT,)),
    LeafSpec("client-controller", "system:kube-controller-manager", (), "client-ca", (CLIENT,)),
    LeafSpec("client-scheduler", "system:kube-scheduler", (), "client-ca", (CLIENT,)),
    LeafSpec("client-kube-apiserver", "system:apiserver", _MASTERS, "client-ca", (CLIENT,)),
    LeafSpec("client-kube-proxy", "system:kube-proxy", (), "client-ca", (CLIENT,)),
    LeafSpec("client-k3s-controller", "system:k3s-controller", (), "client-ca", (CLIENT,)),
    LeafSpec(
        "client-k3s-cloud-controller", "k3s-cloud-controller-manager", (), "client-ca", (CLIENT,)
    ),
    LeafSpec("serving-kube-apiserver", "kube-apiserver", (), "server-ca", (SERVER,), "apiserver"),
    LeafSpec("client-auth-proxy", "system:auth-proxy", (), "request-header-ca", (CLIENT,)),
    LeafSpec("etcd/client", "etcd-client", (), "etcd/server-ca", (CLIENT,)),
    LeafSpec("etcd/peer-server-client", "etcd-peer", (), "etcd/peer-ca", (SERVER, CLIENT), "etcd"),
    LeafSpec("etcd/server-client", "etcd-server", (), "etcd/server-ca", (SERVER, CLIENT), "etcd"),
)

# Keys k3s keeps without a certificate next to them: agents' kubelet certs are signed on demand.
SERVER_KEYS_ONLY = ("client-kubelet", "serving-kubelet")

# (kubeconfig name, leaf) as deps.go writes them under server/cred.
CRED_KUBECONFIGS = (
    ("admin", "client-admin"),
    ("supervisor", "client-supervisor"),
    ("controller", "client-controller"),
    ("scheduler", "client-scheduler"),
    ("api-server", "client-kube-apiserver"),
    ("cloud-controller", "client-k3s-cloud-controller"),
)

AGENT_LEAVES = (
    "client-kubelet",
    "serving-kubelet",
    "client-kube-proxy",
    "client-k3s-controller",
)


@dataclass
class PkiReport:
    """What a start did to the tree, for the server's log."""

    created: list[str] = field(default_factory=list)
    renewed: list[str] = field(default_factory=list)


# --- primitives ---------------------------------------------------------------------------


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def not_after(cert: x509.Certificate) -> dt.datetime:
    """Aware UTC NotAfter on cryptography 38 (naive attribute) and 42+ (``*_utc``)."""
    value = getattr(cert, "not_valid_after_utc", None)
    return value if value is not None else cert.not_valid_after.replace(tzinfo=UTC)


def not_before(cert: x509.Certificate) -> dt.datetime:
    value = getattr(cert, "not_valid_before_utc", None)
    return value if value is not None else cert.not_valid_before.replace(tzinfo=UTC)


def new_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def load_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: expected an EC private key as k3s writes")
    return key


def load_certs(path: Path) -> list[x509.Certificate]:
    """Every certificate in a PEM file, in order (leaf first for k3s bundles)."""
    return split_pem_certs(path.read_bytes())


def split_pem_certs(data: bytes) -> list[x509.Certificate]:
    marker = b"-----END CERTIFICATE-----"
    certs = []
    for chunk in data.split(marker):
        start = chunk.find(b"-----BEGIN CERTIFICATE-----")
        if start >= 0:
            certs.append(x509.load_pem_x509_certificate(chunk[start:] + marker + b"\n"))
    return certs


def write_private(path: Path, data: bytes) -> None:
    """Write a file 0600 from the start (keys, bundles, kubeconfigs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_or_create_key(path: Path) -> tuple[PrivateKey, bool]:
    if path.exists():
        return load_key(path), False
    key = new_key()
    write_private(path, key_pem(key))
    return key, True


def go_subject(name: x509.Name) -> str:
    """The subject as Go's ``pkix.Name.String()`` prints it (``CN=...,O=...``)."""
    parts = []
    cns = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if cns:
        parts.append("CN=" + str(cns[0].value))
    if orgs:
        parts.append("+".join("O=" + str(org.value) for org in orgs))
    return ",".join(parts)


def common_name(cert: x509.Certificate) -> str:
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def _name(cn: str, orgs: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _key_id(public: ec.EllipticCurvePublicKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(public)


def make_ca(key: PrivateKey, prefix: str, now: dt.datetime) -> x509.Certificate:
    subject = _name(f"{prefix}-ca@{int(now.timestamp())}")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, True, False, False, False),
            critical=True,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_id(key.public_key()), critical=False)
    )
    return builder.sign(key, hashes.SHA256())


@dataclass(frozen=True)
class Subject:
    """Who a leaf is for: names, usages and SANs."""

    common_name: str
    organizations: tuple[str, ...] = ()
    usages: tuple[str, ...] = (CLIENT,)
    dns_names: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()


def sign_leaf(  # noqa: PLR0917 - mirrors certutil.NewSignedCert's arguments
    subject: Subject,
    public_key: ec.EllipticCurvePublicKey,
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    valid_from: dt.datetime,
    valid_until: dt.datetime,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject.common_name, subject.organizations))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_until)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([_EKU[usage] for usage in subject.usages]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in subject.dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in subject.ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def subject_of(cert: x509.Certificate) -> Subject:
    """Read back what a leaf was issued for, so re-signing keeps it unchanged."""
    orgs = tuple(
        str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    )
    usages: list[str] = []
    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    try:
        ekus = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        usages = [name for name, oid in _EKU.items() if oid in ekus]
        usages.sort(key=lambda usage: list(ekus).index(_EKU[usage]))
    except x509.ExtensionNotFound:
        pass
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        pass
    return Subject(common_name(cert), orgs, tuple(usages), dns, ips)


def authority_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return None
    return aki.key_identifier


def subject_key_id(cert: x509.Certificate) -> bytes:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return _key_id(cert.public_key()).digest  # type: ignore[arg-type]


def inside_window(cert: x509.Certificate, now: dt.datetime, window_days: int) -> bool:
    """dynamiclistener's ``IsCertExpired``: fewer than ``window_days`` left (or none)."""
    return not_after(cert) - now <= dt.timedelta(days=window_days)


# --- the server tree ----------------------------------------------------------------------


@dataclass(frozen=True)
class ServerIdentity:
    """The SANs a server's serving certificates carry."""

    node_name: str
    node_ips: tuple[str, ...] = ()
    tls_sans: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"
    service_ip: str = "10.43.0.1"

    def apiserver_sans(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        dns = [
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            f"kubernetes.default.svc.{self.cluster_domain}",
            "localhost",
            self.node_name,
        ]
        ips = ["127.0.0.1", "::1", self.service_ip, *self.node_ips]
        for san in self.tls_sans:
            (ips if _is_ip(san) else dns).append(san)
        return _unique(dns), _unique(ips)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for item in items if item))


def ensure_server_pki(
    layout: Layout, identity: ServerIdentity, now: dt.datetime, window_days: int
) -> PkiReport:
    """Create what is missing and renew what is expired or inside the window (k3s start)."""
    report = PkiReport()
    tls = layout.tls_dir
    (tls / "etcd").mkdir(parents=True, exist_ok=True)
    (tls / "temporary-certs").mkdir(exist_ok=True)
    layout.cred_dir.mkdir(parents=True, exist_ok=True)
    for spec in SERVER_CAS:
        if _ensure_ca(tls, spec, now):
            report.created.append(f"{spec.name}.crt")
    for ca in ("client-ca", "server-ca"):
        first = load_certs(tls / f"{ca}.crt")[0]
        _write_public(tls / f"{ca}.nochain.crt", cert_pem(first))
    for spec in SERVER_LEAVES:
        outcome = _ensure_leaf(tls, spec, identity, now, window_days)
        if outcome:
            getattr(report, outcome).append(f"{spec.name}.crt")
    for name in SERVER_KEYS_ONLY:
        if load_or_create_key(tls / f"{name}.key")[1]:
            report.created.append(f"{name}.key")
    _ensure_service_keys(tls)
    for cred, leaf in CRED_KUBECONFIGS:
        write_cred_kubeconfig(layout, cred, leaf)
    return report


def _ensure_ca(tls: Path, spec: CASpec, now: dt.datetime) -> bool:
    crt, key_path = tls / f"{spec.name}.crt", tls / f"{spec.name}.key"
    if crt.exists() and key_path.exists():
        return False
    key, _ = load_or_create_key(key_path)
    _write_public(crt, cert_pem(make_ca(key, spec.prefix, now)))
    return True


def _write_public(path: Path, data: bytes) -> None:
    """CA certs: k3s writes them 0644 (certutil.WriteCert)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def leaf_subject(spec: LeafSpec, identity: ServerIdentity) -> Subject:
    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    if spec.sans == "apiserver":
        dns, ips = identity.apiserver_sans()
    elif spec.sans == "etcd":
        dns = _unique(["kine.sock", *[s for s in identity.tls_sans if not _is_ip(s)]])
        extra_ips = [s for s in identity.tls_sans if _is_ip(s)]
        ips = _unique(["127.0.0.1", *identity.node_ips, *extra_ips])
    return Subject(spec.common_name, spec.organizations, spec.usages, dns, ips)


def _ensure_leaf(
    tls: Path, spec: LeafSpec, identity: ServerIdentity, now: dt.datetime, window_days: int
) -> str:
    crt, key_path = tls / f"{spec.name}.crt", tls / f"{spec.name}.key"
    ca_certs = load_certs(tls / f"{spec.ca}.crt")
    wanted = leaf_subject(spec, identity)
    reason = _renew_reason(crt, wanted, ca_certs[0], now, window_days)
    if not reason and key_path.exists():
        return ""
    key, _ = load_or_create_key(key_path)
    ca_key = load_key(tls / f"{spec.ca}.key")
    leaf = sign_leaf(
        wanted,
        key.public_key(),
        ca_certs[0],
        ca_key,
        not_before(ca_certs[0]),
        now + dt.timedelta(days=LEAF_DAYS),
    )
    write_private(crt, cert_pem(leaf) + b"".join(cert_pem(c) for c in ca_certs))
    return "renewed" if reason == "renew" else "created"


def _renew_reason(
    crt: Path, wanted: Subject, ca: x509.Certificate, now: dt.datetime, window_days: int
) -> str:
    if not crt.exists():
        return "create"
    current = load_certs(crt)[0]
    if inside_window(current, now, window_days):
        return "renew"
    have = subject_of(current)
    changed = (
        have.common_name != wanted.common_name
        or set(have.organizations) != set(wanted.organizations)
        or not set(wanted.dns_names) <= set(have.dns_names)
        or not set(wanted.ips) <= set(have.ips)
        or authority_key_id(current) != subject_key_id(ca)
    )
    return "renew" if changed else ""


def _ensure_service_keys(tls: Path) -> None:
    """service.key signs ServiceAccount tokens; service.current.key is its first key alone."""
    key, _ = load_or_create_key(tls / "service.key")
    write_private(tls / "service.current.key", key_pem(key))


def write_cred_kubeconfig(layout: Layout, cred: str, leaf: str) -> None:
    """deps.go's kubeconfig template: file references, loopback apiserver port 6444."""
    tls = layout.tls_dir
    text = (
        "apiVersion: v1\nclusters:\n- cluster:\n    server: https://127.0.0.1:6444\n"
        f"    certificate-authority: {tls / 'server-ca.crt'}\n  name: local\n"
        "contexts:\n- context:\n    cluster: local\n    namespace: default\n    user: user\n"
        "  name: Default\ncurrent-context: Default\nkind: Config\npreferences: {}\n"
        "users:\n- name: user\n  user:\n"
        f"    client-certificate: {tls / (leaf + '.crt')}\n"
        f"    client-key: {tls / (leaf + '.key')}\n"
    )
    write_private(layout.cred_dir / f"{cred}.kubeconfig", text.encode())


# --- lab breakers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CAKeys:
    """The cluster CAs by subject key id, for re-signing any leaf found on a node."""

    by_key_id: dict[bytes, tuple[x509.Certificate, PrivateKey]]

    @classmethod
    def from_tls_dir(cls, tls: Path) -> CAKeys:
        found = {}
        for spec in SERVER_CAS:
            crt, key = tls / f"{spec.name}.crt", tls / f"{spec.name}.key"
            if crt.exists() and key.exists():
                cert = load_certs(crt)[0]
                found[subject_key_id(cert)] = (cert, load_key(key))
        return cls(found)

    @classmethod
    def from_pem_bundle(cls, data: bytes) -> CAKeys:
        """A bundle of alternating CA cert / key PEM blocks (``k3s-lab ca-bundle``)."""
        certs = split_pem_certs(data)
        keys = _split_pem_keys(data)
        if len(certs) != len(keys):
            raise ValueError("CA bundle must hold one key per CA certificate")
        return cls({subject_key_id(c): (c, k) for c, k in zip(certs, keys, strict=True)})

    def to_pem_bundle(self) -> bytes:
        return b"".join(cert_pem(c) + key_pem(k) for c, k in self.by_key_id.values())

    def issuer_of(self, leaf: x509.Certificate) -> tuple[x509.Certificate, PrivateKey]:
        aki = authority_key_id(leaf)
        if aki is None or aki not in self.by_key_id:
            raise LookupError(
                f"no CA key for {go_subject(leaf.subject)}; on an agent pass the server's CAs "
                "with --ca-from (k3s-lab ca-bundle on the server prints them)"
            )
        return self.by_key_id[aki]


def _split_pem_keys(data: bytes) -> list[PrivateKey]:
    keys = []
    for block in data.split(b"-----BEGIN ")[1:]:
        if b"PRIVATE KEY-----" in block.split(b"\n", 1)[0]:
            keys.append(serialization.load_pem_private_key(b"-----BEGIN " + block, password=None))
    return [key for key in keys if isinstance(key, ec.EllipticCurvePrivateKey)]


def resign_bundle(
    path: Path,
    cas: CAKeys,
    valid_from: dt.datetime,
    valid_until: dt.datetime,
) -> x509.Certificate:
    """Re-issue the first certificate of a bundle with other dates, same key and subject."""
    certs = load_certs(path)
    ca_cert, ca_key = cas.issuer_of(certs[0])
    leaf = sign_leaf(
        subject_of(certs[0]),
        certs[0].public_key(),  # type: ignore[arg-type]
        ca_cert,
        ca_key,
        valid_from,
        valid_until,
    )
    write_private(path, cert_pem(leaf) + b"".join(cert_pem(c) for c in certs[1:]))
    return leaf


def year_passed_dates(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """A one-year certificate issued 366 days ago: it expired yesterday."""
    return now - dt.timedelta(days=LEAF_DAYS + 1), now - dt.timedelta(days=1)


def leaf_files(layout: Layout) -> list[Path]:
    """Every leaf certificate file on this node (server tree and agent tree)."""
    files = [layout.tls_dir / f"{spec.name}.crt" for spec in SERVER_LEAVES]
    files += [layout.agent_dir / f"{name}.crt" for name in AGENT_LEAVES]
    return [path for path in files if path.exists()]


def expire_leaves(layout: Layout, cas: CAKeys, now: dt.datetime) -> list[Path]:
    """The certs-expired breaker: every leaf on the node expired yesterday ("a year passed")."""
    valid_from, valid_until = year_passed_dates(now)
    done = []
    for path in leaf_files(layout):
        resign_bundle(path, cas, valid_from, valid_until)
        done.append(path)
    return done


def random_hex(nbytes: int) -> str:
    return secrets.token_hex(nbytes)
