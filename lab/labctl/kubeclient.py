"""A minimal Kubernetes REST client over the stdlib, for the lab's own plumbing.

The lab must report *how* the API refuses a client (TLS verification, 401), which the
``kubernetes`` package hides behind retries and generic exceptions.
"""

from __future__ import annotations

import http.client
import json
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from labctl.kubeconfig import Credentials


class KubeError(RuntimeError):
    """The API answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


@dataclass
class KubeClient:
    """One identity talking to one API server; ``verify=False`` skips server verification."""

    creds: Credentials
    verify: bool = True
    timeout: float = 10.0

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.verify:
            ctx.load_verify_locations(cadata=self.creds.ca_pem.decode("ascii"))
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.creds.cert_pem:
            # ssl only loads client certificates from files.
            with tempfile.TemporaryDirectory(prefix="lab-kube-") as tmp:
                cert, key = Path(tmp, "c.pem"), Path(tmp, "k.pem")
                cert.write_bytes(self.creds.cert_pem)
                key.write_bytes(self.creds.key_pem)
                ctx.load_cert_chain(cert, key)
        return ctx

    def raw(
        self,
        method: str,
        path: str,
        body: object = None,
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        url = urlsplit(self.creds.server)
        conn = http.client.HTTPSConnection(
            url.hostname or "127.0.0.1",
            url.port or 443,
            context=self._context(),
            timeout=self.timeout,
        )
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        try:
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        return resp.status, data

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        status, data = self.raw(method, path, body, content_type)
        if status >= 400:
            raise KubeError(status, _status_message(data) or f"HTTP {status}")
        return dict(json.loads(data)) if data else {}

    def get(self, path: str) -> dict[str, Any]:
        return self.request("GET", path)

    def items(self, path: str) -> list[dict[str, Any]]:
        return list(self.get(path).get("items") or [])

    def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", path, body, "application/merge-patch+json")

    def delete(self, path: str) -> dict[str, Any]:
        return self.request("DELETE", path, {"kind": "DeleteOptions", "apiVersion": "v1"})


def _status_message(data: bytes) -> str:
    try:
        return str(json.loads(data).get("message", ""))
    except (ValueError, AttributeError):
        return data.decode("utf-8", "replace")[:200]


def node_ready(node: dict[str, Any]) -> bool:
    for cond in node.get("status", {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False
