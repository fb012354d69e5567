"""The server side of k3s's supervisor routes (``pkg/server/handlers/router.go``).

Served on :6443 next to the API, as in k3s:

* ``/cacerts`` and ``/ping`` for anyone;
* ``/v1-k3s/{client-ca,server-ca}.crt``, ``serving-kubelet.crt``, ``client-kubelet.crt``,
  ``client-kube-proxy.crt``, ``client-k3s-controller.crt``, ``config``, ``apiservers``,
  ``readyz`` for nodes: the join token as HTTP basic auth (users ``node`` and ``server``,
  as ``cred/passwd`` lists them) or a client certificate of group ``system:nodes``;
* ``/v1-k3s/server-bootstrap`` for user ``server`` only: the CA material a joining server
  needs (the lab's ``certs-expired`` breaker uses it on agents to re-sign their leaves).

Kubelet certificates are signed on every request (CN ``system:node:<name>``, O
``system:nodes`` / CN ``<name>`` with the node's names and IPs), with the server's shared
``client-kubelet.key`` / ``serving-kubelet.key``. The node password check uses
``cred/node-passwd`` (the pre-1.21 file; newer k3s keeps it in a Secret): decision noted.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from k3s_standin import pki
from k3s_standin.kubeapi import Request, Response
from k3s_standin.layout import Layout

PREFIX = "/v1-k3s"
BOOTSTRAP_FILES = {
    "ServerCA": "server-ca.crt",
    "ServerCAKey": "server-ca.key",
    "ClientCA": "client-ca.crt",
    "ClientCAKey": "client-ca.key",
    "RequestHeaderCA": "request-header-ca.crt",
    "RequestHeaderCAKey": "request-header-ca.key",
    "ETCDServerCA": "etcd/server-ca.crt",
    "ETCDServerCAKey": "etcd/server-ca.key",
    "ETCDPeerCA": "etcd/peer-ca.crt",
    "ETCDPeerCAKey": "etcd/peer-ca.key",
    "ServiceKey": "service.key",
}


def text(status: int, body: str | bytes, content_type: str = "text/plain") -> Response:
    data = body.encode() if isinstance(body, str) else body
    return Response(status=status, body=data, content_type=content_type)


def unauthorized() -> Response:
    return text(401, "unauthorized\n")


@dataclass(frozen=True)
class Passwd:
    """``server/cred/passwd``: ``password,user,uid,group`` records."""

    path: Path

    def write(self, token: str) -> None:
        lines = f"{token},node,node,k3s:agent\n{token},server,server,k3s:server\n"
        pki.write_private(self.path, lines.encode())

    def user(self, name: str, password: str) -> str | None:
        if not self.path.exists():
            return None
        for line in self.path.read_text().splitlines():
            fields = line.split(",")
            if len(fields) >= 4 and fields[1] == name and hmac.compare_digest(fields[0], password):
                return fields[3]
        return None


@dataclass(frozen=True)
class Supervisor:
    layout: Layout
    identity: pki.ServerIdentity
    config: dict[str, object]
    # Joining nodes are served in parallel; node-passwd is read-modify-write.
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, compare=False)

    @property
    def passwd(self) -> Passwd:
        return Passwd(self.layout.cred_dir / "passwd")

    def routes(self) -> list[tuple[str, str, Callable[[Request], Response]]]:
        return [
            ("GET", "/cacerts", self.cacerts),
            ("GET", "/ping", lambda _req: text(200, "pong")),
            ("GET", f"{PREFIX}/*", self.node_route),
        ]

    def cacerts(self, _req: Request) -> Response:
        return text(200, (self.layout.tls_dir / "server-ca.crt").read_bytes())

    # --- authentication ------------------------------------------------------------------

    def _basic_group(self, req: Request) -> tuple[str, str] | None:
        header = req.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        group = self.passwd.user(user, password)
        return (user, group) if group else None

    def _is_node(self, req: Request) -> bool:
        if req.user is not None and "system:nodes" in req.user.groups:
            return True
        return self._basic_group(req) is not None

    # --- routes ----------------------------------------------------------------------------

    def node_route(self, req: Request) -> Response:
        name = req.path[len(PREFIX) + 1 :]
        if name == "server-bootstrap":
            basic = self._basic_group(req)
            if basic is None or basic[1] != "k3s:server":
                return unauthorized()
            return self.bootstrap()
        if not self._is_node(req):
            return unauthorized()
        simple = {
            "client-ca.crt": lambda: text(
                200, (self.layout.tls_dir / "client-ca.crt").read_bytes()
            ),
            "server-ca.crt": lambda: text(
                200, (self.layout.tls_dir / "server-ca.crt").read_bytes()
            ),
            "client-kube-proxy.crt": lambda: self._file_pair("client-kube-proxy"),
            "client-k3s-controller.crt": lambda: self._file_pair("client-k3s-controller"),
            "config": lambda: text(200, json.dumps(self.config), "application/json"),
            "apiservers": lambda: text(
                200, json.dumps([f"{ip}:6443" for ip in self.identity.node_ips]), "application/json"
            ),
            "readyz": lambda: text(200, "ok"),
        }
        if name in simple:
            return simple[name]()
        if name in {"client-kubelet.crt", "serving-kubelet.crt"}:
            return self._kubelet_cert(req, name)
        return text(404, "404 page not found\n")

    def _file_pair(self, name: str) -> Response:
        tls = self.layout.tls_dir
        return text(200, (tls / f"{name}.crt").read_bytes() + (tls / f"{name}.key").read_bytes())

    def _kubelet_cert(self, req: Request, name: str) -> Response:
        node = req.headers.get("k3s-Node-Name") or ""
        if not node:
            return text(400, "missing k3s-Node-Name header\n")
        if not self._check_node_password(node, req.headers.get("k3s-Node-Password") or ""):
            return text(403, "Forbidden\n")
        ips = tuple(ip for ip in (req.headers.get("k3s-Node-IP") or "").split(",") if ip)
        tls = self.layout.tls_dir
        if name == "client-kubelet.crt":
            subject = pki.Subject(f"system:node:{node}", ("system:nodes",), (pki.CLIENT,))
            ca, key_file = "client-ca", "client-kubelet.key"
        else:
            subject = pki.Subject(node, (), (pki.SERVER,), (node, "localhost"), ("127.0.0.1", *ips))
            ca, key_file = "server-ca", "serving-kubelet.key"
        ca_certs = pki.load_certs(tls / f"{ca}.crt")
        key = pki.load_key(tls / key_file)
        leaf = pki.sign_leaf(
            subject,
            key.public_key(),
            ca_certs[0],
            pki.load_key(tls / f"{ca}.key"),
            pki.not_before(ca_certs[0]),
            pki.utcnow() + dt.timedelta(days=pki.LEAF_DAYS),
        )
        chain = pki.cert_pem(leaf) + b"".join(pki.cert_pem(c) for c in ca_certs)
        return text(200, chain + pki.key_pem(key))

    def _check_node_password(self, node: str, password: str) -> bool:
        """First use records the password's hash; later requests must match it."""
        with self.lock:
            return self._check_node_password_locked(node, password)

    def _check_node_password_locked(self, node: str, password: str) -> bool:
        path = self.layout.cred_dir / "node-passwd"
        digest = hashlib.sha256(password.encode()).hexdigest()
        records = {}
        if path.exists():
            for line in path.read_text().splitlines():
                stored, _, name = line.partition(",")
                records[name] = stored
        if node in records:
            return hmac.compare_digest(records[node], digest)
        records[node] = digest
        body = "".join(f"{value},{key}\n" for key, value in records.items())
        pki.write_private(path, body.encode())
        return True

    def bootstrap(self) -> Response:
        """``bootstrap.ReadFromDisk``'s JSON: name -> {Timestamp, Content (base64)}."""
        tls = self.layout.tls_dir
        data = {}
        for field, rel in BOOTSTRAP_FILES.items():
            path = tls / rel
            if path.exists():
                stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
                data[field] = {
                    "Timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "Content": base64.b64encode(path.read_bytes()).decode(),
                }
        return text(200, json.dumps(data), "application/json")


def cas_from_bootstrap(document: dict[str, dict[str, str]]) -> pki.CAKeys:
    """Rebuild the CA keys from a server-bootstrap document (for breakers on agents)."""
    bundle = b""
    for field in BOOTSTRAP_FILES:
        if field.endswith("CA") and field + "Key" in document:
            bundle += base64.b64decode(document[field]["Content"])
            bundle += base64.b64decode(document[field + "Key"]["Content"])
    return pki.CAKeys.from_pem_bundle(bundle)
