"""The agent side of k3s's supervisor protocol (``pkg/clientaccess``, ``pkg/agent/config``).

A join token is either the full form ``K10<sha256 of the server CA>::<user>:<password>``
or a bare password (then the user is ``node`` and the CA from ``/cacerts`` is trusted on
first use, as k3s does). Certificates are fetched with HTTP basic auth, or with the node's
client-kubelet certificate once it has one (falling back to the token on 401, as
``getNodeNamedCrt`` does).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from k3s_standin import gotls, pki
from k3s_standin.layout import Layout


@dataclass(frozen=True)
class Token:
    ca_hash: str
    username: str
    password: str

    @classmethod
    def parse(cls, text: str, default_user: str = "node") -> Token:
        text = text.strip()
        if text.startswith("K10") and "::" in text:
            head, _, creds = text.partition("::")
            user, _, password = creds.partition(":")
            return cls(head[3:], user, password)
        return cls("", default_user, text)


def server_token(ca_pem: bytes, password: str) -> str:
    """What k3s writes to ``server/token``: ``K10<sha256(server-ca.crt)>::server:<password>``."""
    return f"K10{hashlib.sha256(ca_pem).hexdigest()}::server:{password}"


class SupervisorError(Exception):
    """A supervisor request failed; the text is worded as k3s's Go client words it."""


@dataclass(frozen=True)
class Supervisor:
    url: str
    token: Token
    ca_pem: bytes

    @classmethod
    def connect(cls, url: str, token: str, timeout: float = 10.0) -> Supervisor:
        """``ParseAndValidateToken``: fetch /cacerts and check it against the token's hash."""
        parsed = Token.parse(token)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            status, body = request(url, "/cacerts", ctx, {}, timeout)
        except OSError as error:
            text = gotls.os_error_text(error, urlsplit(url).netloc)
            raise SupervisorError(gotls.request_error("GET", url + "/cacerts", text)) from error
        if status != 200:
            raise SupervisorError(
                f"{url}/cacerts: {status} {http.client.responses.get(status, '')}"
            )
        if parsed.ca_hash and hashlib.sha256(body).hexdigest() != parsed.ca_hash:
            raise SupervisorError(
                f"token CA hash does not match the Cluster CA certificate hash: "
                f"{parsed.ca_hash} != {hashlib.sha256(body).hexdigest()}"
            )
        return cls(url, parsed, body)

    def get(
        self,
        path: str,
        headers: dict[str, str] | None = None,
        client_cert: tuple[Path, Path] | None = None,
        timeout: float = 10.0,
    ) -> bytes:
        headers = dict(headers or {})
        if client_cert and all(p.exists() for p in client_cert):
            status, body = self._get(path, headers, client_cert, timeout)
            if status != 401:
                return self._ok(path, status, body)
        basic = base64.b64encode(f"{self.token.username}:{self.token.password}".encode())
        headers["Authorization"] = "Basic " + basic.decode()
        status, body = self._get(path, headers, None, timeout)
        return self._ok(path, status, body)

    def _get(
        self, path: str, headers: dict[str, str], cert: tuple[Path, Path] | None, timeout: float
    ) -> tuple[int, bytes]:
        ctx = client_context(self.ca_pem, cert)
        try:
            return request(self.url, path, ctx, headers, timeout)
        except ssl.SSLCertVerificationError as error:
            raise SupervisorError(
                gotls.request_error("GET", self.url + path, gotls.verify_error(error, self.url))
            ) from error
        except OSError as error:
            text = gotls.os_error_text(error, urlsplit(self.url).netloc)
            raise SupervisorError(gotls.request_error("GET", self.url + path, text)) from error

    def _ok(self, path: str, status: int, body: bytes) -> bytes:
        if status == 403:
            raise SupervisorError(
                "Node password rejected, duplicate hostname or contents of "
                "'/etc/rancher/node/password' may not match server node-passwd entry, try "
                "enabling a unique node name with the --with-node-id flag"
            )
        if status != 200:
            reason = http.client.responses.get(status, "")
            raise SupervisorError(f"{self.url}{path}: {status} {reason}")
        return body


def client_context(ca_pem: bytes, cert: tuple[Path, Path] | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca_pem.decode())
    if cert:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


def client_context_from_pem(ca_pem: bytes, cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """ssl wants files for the client pair; a private temp file is removed at once."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca_pem.decode())
    fd, name = tempfile.mkstemp(prefix="k3s-client-")
    try:
        os.write(fd, cert_pem + key_pem)
        os.close(fd)
        ctx.load_cert_chain(name)
    finally:
        os.unlink(name)
    return ctx


def request(
    base: str,
    path: str,
    ctx: ssl.SSLContext,
    headers: dict[str, str],
    timeout: float,
    *,
    method: str = "GET",
    body: bytes | None = None,
) -> tuple[int, bytes]:
    parts = urlsplit(base)
    conn = http.client.HTTPSConnection(
        parts.hostname or "", parts.port or 443, context=ctx, timeout=timeout
    )
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@dataclass(frozen=True)
class NodeIdentity:
    name: str
    ips: tuple[str, ...]


def ensure_node_password(layout: Layout) -> str:
    """``/etc/rancher/node/password``: 16 random bytes in hex, 0600, kept across restarts."""
    path = layout.node_etc_dir / "password"
    if path.exists():
        return path.read_text().strip()
    password = os.urandom(16).hex()
    pki.write_private(path, (password + "\n").encode())
    return password


def fetch_agent_certs(layout: Layout, supervisor: Supervisor, node: NodeIdentity) -> None:
    """What ``k3s agent`` writes to ``agent/`` at every start (pkg/agent/config ``get``)."""
    agent = layout.agent_dir
    agent.mkdir(parents=True, exist_ok=True)
    own_cert = (agent / "client-kubelet.crt", agent / "client-kubelet.key")
    supervisor.get("/v1-k3s/config", client_cert=own_cert)
    for name in ("client-ca.crt", "server-ca.crt"):
        pki.write_private(agent / name, supervisor.get(f"/v1-k3s/{name}", client_cert=own_cert))
    named = {
        "k3s-Node-Name": node.name,
        "k3s-Node-Password": ensure_node_password(layout),
        "k3s-Node-IP": ",".join(node.ips),
    }
    for name in ("serving-kubelet", "client-kubelet", "client-kube-proxy", "client-k3s-controller"):
        body = supervisor.get(f"/v1-k3s/{name}.crt", headers=named, client_cert=own_cert)
        cert_part, key_part = split_cert_key(body)
        pki.write_private(agent / f"{name}.crt", cert_part)
        pki.write_private(agent / f"{name}.key", key_part)


def split_cert_key(body: bytes) -> tuple[bytes, bytes]:
    """``splitCertKeyPEM``: certificates in one file, the private key in the other."""
    certs, keys = [], []
    for block in body.split(b"-----BEGIN ")[1:]:
        text = b"-----BEGIN " + block.split(b"-----END ", 1)[0]
        end_label = block.split(b"-----END ", 1)[1].split(b"-----", 1)[0]
        pem = text + b"-----END " + end_label + b"-----\n"
        (keys if b"PRIVATE KEY" in end_label else certs).append(pem)
    return b"".join(certs), b"".join(keys)
