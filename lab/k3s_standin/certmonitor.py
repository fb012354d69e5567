"""k3s's certificate monitor (``pkg/certmonitor``, since v1.29.4): Events on the Node.

At start (once the API answers) and every 30 minutes the agent checks its services'
certificates (all services on a server) against the renewal window, and the CAs against
365 days, and records Events on its Node through the kubelet's credentials:
``CertificateExpirationWarning`` / ``CACertificateExpirationWarning`` (Warning), or once at
start ``CertificateExpirationOK`` (Normal). Messages and the per-file error texts are
k3s's.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any

from k3s_standin import certcmd, pki
from k3s_standin.layout import Layout

Obj = dict[str, Any]
COMPONENT = "k3s-cert-monitor"
INTERVAL_SECONDS = 1800.0


def _problems(files: dict[str, list[Path]], now: dt.datetime, days: int) -> list[str]:
    found = []
    for service, paths in files.items():
        for path in paths:
            try:
                certs = pki.load_certs(path)
            except (OSError, ValueError):
                continue
            for cert in certs:
                status = certcmd.cert_status(cert, now, days)
                subject = pki.go_subject(cert.subject)
                where = f"{service}/{path.name}: certificate {subject}"
                if status == "NOT YET VALID":
                    when = certcmd.rfc3339(pki.not_before(cert))
                    found.append(f"{where} is not valid before {when}")
                elif status == "EXPIRED":
                    found.append(f"{where} expired at {certcmd.rfc3339(pki.not_after(cert))}")
                elif status == "WARNING":
                    when = certcmd.rfc3339(pki.not_after(cert))
                    found.append(f"{where} will expire within {days} days at {when}")
    return found


def _ca_files(layout: Layout) -> dict[str, list[Path]]:
    tls = layout.tls_dir
    names = ("server-ca", "client-ca", "request-header-ca", "etcd/peer-ca", "etcd/server-ca")
    return {"certificate-authority": [tls / f"{name}.crt" for name in names]}


def findings(
    layout: Layout, window_days: int, now: dt.datetime, first: bool
) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the Events one check records."""
    server = layout.server_dir.exists()
    services = certcmd.ALL_SERVICES if server else certcmd.AGENT_SERVICES
    node_problems = _problems(certcmd.files_for_services(layout, services), now, window_days)
    ca_problems = _problems(_ca_files(layout), now, 365) if server else []
    events = []
    if node_problems:
        events.append((
            "Warning",
            "CertificateExpirationWarning",
            "Node certificates require attention - restart k3s on this node to trigger "
            "automatic rotation: " + "\n".join(node_problems),
        ))  # fmt: skip
    if ca_problems:
        events.append((
            "Warning",
            "CACertificateExpirationWarning",
            "Certificate Authority certificates require attention - check k3s documentation "
            "and begin planning rotation: " + "\n".join(ca_problems),
        ))  # fmt: skip
    if first and not events:
        events.append((
            "Normal",
            "CertificateExpirationOK",
            "Node and Certificate Authority certificates managed by k3s are OK",
        ))  # fmt: skip
    return events


def event(node: str, kind: str, reason: str, message: str, now: dt.datetime) -> Obj:
    stamp = certcmd.rfc3339(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{node}.{secrets.token_hex(8)}", "namespace": "default"},
        "involvedObject": {"kind": "Node", "name": node, "uid": node},
        "reason": reason,
        "message": message,
        "type": kind,
        "source": {"component": COMPONENT},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "reportingComponent": COMPONENT,
        "reportingInstance": "",
    }
