"""``k3s certificate check`` and ``k3s certificate rotate`` as k3s's ``pkg/cli/cert`` does them.

Two generations of ``check`` exist and both are imitated (see ``settings``):

* v1.29.4 until the May 2025 releases: ``--output text|table``; text lines go through logrus
  (stderr) with the full path and the Go-formatted subject; table columns
  ``CERTIFICATE SUBJECT STATUS EXPIRES``; ``json`` is an "invalid output format".
* the May 2025 releases and newer: ``text|table|json|yaml``; basenames, CN only, usages,
  ``ResidualTime`` in nanoseconds (JSON) and go-humanize's relative time (table).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from cryptography import x509

from k3s_standin import logfmt, pki
from k3s_standin.layout import Layout

SERVER_SERVICES = (
    "api-server",
    "admin",
    "auth-proxy",
    "cloud-controller",
    "controller-manager",
    "etcd",
    "scheduler",
    "supervisor",
    "k3s-server",
)
AGENT_SERVICES = ("kube-proxy", "kubelet", "k3s-controller")
ALL_SERVICES = SERVER_SERVICES + AGENT_SERVICES


class CertCommandError(Exception):
    """A failure k3s reports as ``FATA[0000] <message>`` with exit code 1."""


def _pair(directory: Path, name: str) -> list[Path]:
    return [directory / f"{name}.crt", directory / f"{name}.key"]


def files_for_services(layout: Layout, services: Iterable[str]) -> dict[str, list[Path]]:
    """``services.FilesForServices``: which files each service owns, server and agent side."""
    tls, agent = layout.tls_dir, layout.agent_dir
    table = {
        "admin": _pair(tls, "client-admin"),
        "api-server": _pair(tls, "client-kube-apiserver") + _pair(tls, "serving-kube-apiserver"),
        "controller-manager": _pair(tls, "client-controller"),
        "scheduler": _pair(tls, "client-scheduler"),
        "etcd": _pair(tls, "etcd/client")
        + _pair(tls, "etcd/server-client")
        + _pair(tls, "etcd/peer-server-client"),
        "cloud-controller": _pair(tls, "client-k3s-cloud-controller"),
        "k3s-controller": [
            *_pair(tls, "client-k3s-controller"),
            *_pair(agent, "client-k3s-controller"),
        ],
        "supervisor": _pair(tls, "client-supervisor"),
        "auth-proxy": _pair(tls, "client-auth-proxy"),
        "kubelet": [
            tls / "client-kubelet.key",
            tls / "serving-kubelet.key",
            *_pair(agent, "client-kubelet"),
            *_pair(agent, "serving-kubelet"),
        ],
        "kube-proxy": _pair(tls, "client-kube-proxy") + _pair(agent, "client-kube-proxy"),
        "k3s-server": [],
    }
    result = {}
    for service in services:
        if service not in table:
            raise CertCommandError(f"{service} is not a recognized service")
        result[service] = table[service]
    return result


def validate_services(services: Iterable[str]) -> None:
    for service in services:
        if service not in ALL_SERVICES:
            raise CertCommandError(f"service {service} is not recognized")


@dataclass(frozen=True)
class CertEntry:
    path: Path
    cert: x509.Certificate
    status: str
    expiry: dt.datetime
    residual: dt.timedelta

    @property
    def usages(self) -> list[str]:
        return cert_usages(self.cert)


def cert_usages(cert: x509.Certificate) -> list[str]:
    """``util.GetCertUsages``."""
    usages = []
    try:
        if cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign:
            usages.append("CertSign")
    except x509.ExtensionNotFound:
        pass
    try:
        for oid in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value:
            if oid == x509.oid.ExtendedKeyUsageOID.SERVER_AUTH:
                usages.append("ServerAuth")
            elif oid == x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH:
                usages.append("ClientAuth")
    except x509.ExtensionNotFound:
        pass
    return usages or ["Unknown"]


def cert_status(cert: x509.Certificate, now: dt.datetime, window_days: int) -> str:
    """``util.GetCertStatus``."""
    if now < pki.not_before(cert):
        return "NOT YET VALID"
    if now > pki.not_after(cert):
        return "EXPIRED"
    if now + dt.timedelta(days=window_days) > pki.not_after(cert):
        return "WARNING"
    return "OK"


def collect(
    files: dict[str, list[Path]], now: dt.datetime, window_days: int
) -> list[tuple[str, list[CertEntry]]]:
    result = []
    for service, paths in files.items():
        entries = []
        for path in paths:
            try:
                certs = pki.load_certs(path)
            except (OSError, ValueError):
                continue  # k3s skips missing files and keys silently
            for cert in certs:
                status = cert_status(cert, now, window_days)
                expiry = pki.not_before(cert) if status == "NOT YET VALID" else pki.not_after(cert)
                entries.append(CertEntry(path, cert, status, expiry, pki.not_after(cert) - now))
        result.append((service, entries))
    return result


def detect_services(layout: Layout, requested: list[str], verb: str, err: TextIO) -> list[str]:
    if requested:
        return requested
    if layout.server_dir.exists():
        logfmt.logrus("info", f"Server detected, {verb} agent and server certificates", err)
        return list(ALL_SERVICES)
    logfmt.logrus("info", f"Agent detected, {verb} agent certificates", err)
    return list(AGENT_SERVICES)


# --- formats ------------------------------------------------------------------------------


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tabwrite(rows: list[list[str]], padding: int) -> list[str]:
    """Go's text/tabwriter for rows of equal length (last cell not padded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i] + padding) for i, cell in enumerate(row[:-1])]
        lines.append("".join(cells) + row[-1])
    return lines


_MAGNITUDES = (
    (1, "now", 1),
    (2, "1 second %s", 1),
    (60, "%d seconds %s", 1),
    (120, "1 minute %s", 1),
    (3600, "%d minutes %s", 60),
    (7200, "1 hour %s", 1),
    (86400, "%d hours %s", 3600),
    (2 * 86400, "1 day %s", 1),
    (7 * 86400, "%d days %s", 86400),
    (14 * 86400, "1 week %s", 1),
    (30 * 86400, "%d weeks %s", 7 * 86400),
    (60 * 86400, "1 month %s", 1),
    (360 * 86400, "%d months %s", 30 * 86400),
    (540 * 86400, "1 year %s", 1),
    (720 * 86400, "2 years %s", 1),
    (37 * 360 * 86400, "%d years %s", 360 * 86400),
)


def humanize_rel(residual: dt.timedelta) -> str:
    """go-humanize ``RelTime(now, now+residual, "", "")`` (keeps its trailing space)."""
    diff = abs(residual.total_seconds())
    for bound, fmt, div in _MAGNITUDES:
        if diff < bound:
            if "%d" in fmt:
                return fmt % (int(diff // div), "")
            return fmt % "" if "%s" in fmt else fmt
    return "a long while "


def go_duration(delta: dt.timedelta) -> str:
    """Go's ``time.Duration.String`` for whole seconds and beyond (``8759h59m59s``)."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def format_v1(
    collected: list[tuple[str, list[CertEntry]]],
    output: str,
    window_days: int,
    out: TextIO,
    err: TextIO,
) -> None:
    if output == "text":
        for service, entries in collected:
            logfmt.logrus("info", "Checking certificates for " + service, err)
            for entry in entries:
                _log_entry_v1(entry, window_days, err)
        return
    if output == "table":
        rows = [
            ["CERTIFICATE", "SUBJECT", "STATUS", "EXPIRES"],
            ["-----------", "-------", "------", "-------"],
        ]
        for _, entries in collected:
            rows += [
                [
                    entry.path.name,
                    pki.go_subject(entry.cert.subject),
                    entry.status,
                    rfc3339(entry.expiry),
                ]
                for entry in entries
            ]
        out.write("\n" + "\n".join(tabwrite(rows, 2)) + "\n")
        return
    raise CertCommandError(f"invalid output format {output}")


def _log_entry_v1(entry: CertEntry, window_days: int, err: TextIO) -> None:
    subject = pki.go_subject(entry.cert.subject)
    when = rfc3339(entry.expiry)
    texts = {
        "NOT YET VALID": ("error", f"certificate {subject} is not valid before {when}"),
        "EXPIRED": ("error", f"certificate {subject} expired at {when}"),
        "WARNING": (
            "warning",
            f"certificate {subject} will expire within {window_days} days at {when}",
        ),
        "OK": ("info", f"certificate {subject} is ok, expires at {when}"),
    }
    level, text = texts[entry.status]
    logfmt.logrus(level, f"{entry.path}: {text}", err)


def format_v2(
    collected: list[tuple[str, list[CertEntry]]],
    output: str,
    window_days: int,
    out: TextIO,
    err: TextIO,
) -> None:
    entries = [entry for _, group in collected for entry in group]
    if output == "text":
        for entry in entries:
            _log_entry_v2(entry, window_days, err)
    elif output == "table":
        rows = [
            ["FILENAME", "SUBJECT", "USAGES", "EXPIRES", "RESIDUAL TIME", "STATUS"],
            ["--------", "-------", "------", "-------", "-------------", "------"],
        ]
        rows += [
            [
                entry.path.name,
                pki.common_name(entry.cert),
                ",".join(entry.usages),
                entry.expiry.astimezone(dt.UTC).strftime("%b %d, %Y %H:%M UTC"),
                humanize_rel(entry.residual),
                entry.status,
            ]
            for entry in entries
        ]
        out.write("\n" + "\n".join(tabwrite(rows, 3)) + "\n")
    elif output == "json":
        document = {"Certificates": [_json_entry(entry) for entry in entries] or None}
        out.write(json.dumps(document, separators=(",", ":")) + "\n")
    elif output == "yaml":
        out.write(_yaml_v2(entries))
    else:
        raise CertCommandError(f"invalid output format {output}")


def _json_entry(entry: CertEntry) -> dict[str, object]:
    return {
        "Filename": entry.path.name,
        "Subject": pki.common_name(entry.cert),
        "Issuer": _issuer_cn(entry.cert),
        "Usages": entry.usages,
        "ExpiryTime": rfc3339(entry.expiry),
        "ResidualTime": int(entry.residual.total_seconds()) * 1_000_000_000
        + entry.residual.microseconds * 1000,
        "Status": entry.status,
    }


def _issuer_cn(cert: x509.Certificate) -> str:
    values = cert.issuer.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def _yaml_v2(entries: list[CertEntry]) -> str:
    """gopkg.in/yaml.v2 output: lower-cased field names, Duration as its String()."""
    if not entries:
        return "certificates: []\n"
    lines = ["certificates:"]
    for entry in entries:
        lines += [
            f"- filename: {entry.path.name}",
            f"  subject: {_yaml_scalar(pki.common_name(entry.cert))}",
            f"  issuer: {_yaml_scalar(_issuer_cn(entry.cert))}",
            "  usages:",
            *[f"  - {usage}" for usage in entry.usages],
            f"  expirytime: {rfc3339(entry.expiry)}",
            f"  residualtime: {go_duration(entry.residual)}",
            f"  status: {_yaml_scalar(entry.status)}",
        ]
    return "\n".join(lines) + "\n"


def _yaml_scalar(text: str) -> str:
    """yaml.v2 leaves these plain: no leading indicator, no ``: `` inside."""
    return json.dumps(text) if text[:1] in "@&*!|>'\"%#`" or ": " in text else text


def _log_entry_v2(entry: CertEntry, window_days: int, err: TextIO) -> None:
    usages = ",".join(entry.usages)
    head = f"{entry.path.name}: certificate {pki.common_name(entry.cert)} ({usages})"
    when = rfc3339(entry.expiry)
    texts = {
        "NOT YET VALID": ("error", f"{head} is not valid before {when}"),
        "EXPIRED": ("error", f"{head} expired at {when}"),
        "WARNING": ("warning", f"{head} will expire within {window_days} days at {when}"),
        "OK": ("info", f"{head} is ok, expires at {when}"),
    }
    level, text = texts[entry.status]
    logfmt.logrus(level, text, err)


@dataclass(frozen=True)
class CheckRequest:
    output: str
    services: list[str]
    window_days: int
    modern: bool


def check(
    layout: Layout, request: CheckRequest, now: dt.datetime, out: TextIO, err: TextIO
) -> None:
    validate_services(request.services)
    services = detect_services(layout, request.services, "checking", err)
    collected = collect(files_for_services(layout, services), now, request.window_days)
    formatter = format_v2 if request.modern else format_v1
    formatter(collected, request.output, request.window_days, out, err)


def rotate(layout: Layout, requested: list[str], err: TextIO, now: float | None = None) -> Path:
    """Back up, mark the dynamic cert for regeneration, delete the services' files."""
    validate_services(requested)
    services = detect_services(layout, requested, "rotating", err)
    files = files_for_services(layout, services)
    backup = _backup(layout, files, int(now if now is not None else time.time()))
    if "k3s-server" in services:
        pki.write_private(layout.dynamic_cert_regenerate, b"")
        logfmt.logrus("info", "Rotating dynamic listener certificate", err)
    for service, paths in files.items():
        logfmt.logrus("info", "Rotating certificates for " + service, err)
        for path in paths:
            path.unlink(missing_ok=True)
    logfmt.logrus(
        "info",
        f"Successfully backed up certificates to {backup}, please restart k3s server or agent "
        "to rotate certificates",
        err,
    )
    return backup


def _backup(layout: Layout, files: dict[str, list[Path]], stamp: int) -> Path:
    name = f"tls-{stamp}"
    target = layout.agent_dir / name
    if layout.tls_dir.exists():
        target = layout.server_dir / name
        shutil.copytree(layout.tls_dir, target, symlinks=True)
    for paths in files.values():
        for path in paths:
            if path.is_relative_to(layout.agent_dir) and path.exists():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target / path.name)
    return target
