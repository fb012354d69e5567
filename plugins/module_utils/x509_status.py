# Copyright (c) 2026, remedy.k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller side of ``remedy.k3s.cert_info``: parse what ``x509_scan`` collected.

Pure functions of DER bytes and a moment ``now``, so every status can be tested without
a clock. Needs ``cryptography`` on the controller only.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from cryptography import x509

STATUSES = ("ok", "expiring", "expired", "not_yet_valid")
_SECONDS_PER_DAY = 86400.0


def parse_moment(value: str | None, now: datetime) -> datetime:
    """The moment to evaluate at: ``value`` (ISO 8601 with an offset or ``Z``) or ``now``."""
    if value is None or value == "":
        return now
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(
            f"at={value!r} is not an ISO 8601 timestamp; write e.g. 2027-03-01T00:00:00Z"
        ) from exc
    if moment.tzinfo is None:
        raise ValueError(
            f"at={value!r} has no UTC offset; add Z or an offset such as +01:00 so the "
            "moment does not depend on the controller's time zone"
        )
    return moment.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def certificate_status(
    not_before: datetime, not_after: datetime, now: datetime, warn_days: int
) -> str:
    if now < not_before:
        return "not_yet_valid"
    if now >= not_after:
        return "expired"
    if (not_after - now).total_seconds() <= warn_days * _SECONDS_PER_DAY:
        return "expiring"
    return "ok"


def _validity(cert: x509.Certificate) -> tuple[datetime, datetime]:
    # not_valid_*_utc arrived in cryptography 42; Debian bookworm ships 38.
    if hasattr(cert, "not_valid_after_utc"):
        return cert.not_valid_before_utc, cert.not_valid_after_utc
    return (
        cert.not_valid_before.replace(tzinfo=UTC),
        cert.not_valid_after.replace(tzinfo=UTC),
    )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def serial_hex(serial: int) -> str:
    """Upper-case hex with an even number of digits, as ``openssl x509 -serial`` prints it."""
    digits = f"{serial:X}"
    return digits if len(digits) % 2 == 0 else "0" + digits


def describe_certificates(ders: list[bytes], now: datetime, warn_days: int) -> dict[str, Any]:
    """Facts about the first certificate of a file or bundle; ``chain_length`` counts all.

    Raises ValueError when any of them is not a parseable certificate.
    """
    if not ders:
        raise ValueError("no certificate")
    certs = []
    for index, der in enumerate(ders, start=1):
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            where = "" if len(ders) == 1 else f" (certificate {index} of {len(ders)})"
            raise ValueError(f"not a valid X.509 certificate{where}") from exc
    cert = certs[0]
    not_before, not_after = _validity(cert)
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": serial_hex(cert.serial_number),
        "not_before": iso_utc(not_before),
        "not_after": iso_utc(not_after),
        "days_left": round((not_after - now).total_seconds() / _SECONDS_PER_DAY, 3),
        "status": certificate_status(not_before, not_after, now, warn_days),
        "is_ca": _is_ca(cert),
        "chain_length": len(certs),
    }


def _decode_der_list(encoded: list[str]) -> list[bytes]:
    try:
        return [base64.b64decode(item, validate=True) for item in encoded]
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the node sent invalid base64") from exc


def summarize(certificates: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {"total": len(certificates)}
    summary.update({status: 0 for status in STATUSES})
    for cert in certificates:
        summary[cert["status"]] += 1
    first = certificates[0] if certificates else None
    summary["earliest_not_after"] = first["not_after"] if first else None
    summary["earliest_path"] = first["path"] if first else None
    return summary


def build_report(
    collected: list[dict[str, Any]],
    errors: list[dict[str, str]],
    now: datetime,
    warn_days: int,
) -> dict[str, Any]:
    """The task result: ``certificates`` (soonest expiry first), ``summary``, ``errors``."""
    certificates: list[dict[str, Any]] = []
    all_errors = list(errors)
    for entry in collected:
        try:
            facts = describe_certificates(_decode_der_list(entry["der"]), now, warn_days)
        except ValueError as exc:
            all_errors.append({"path": _error_path(entry), "msg": str(exc)})
            continue
        certificates.append(
            {
                "path": entry["path"],
                "source": entry["source"],
                "kubeconfig_entry": entry.get("kubeconfig_entry"),
                "kubeconfig_field": entry.get("kubeconfig_field"),
                **facts,
            }
        )
    certificates.sort(key=lambda c: (c["not_after"], c["path"], c["kubeconfig_entry"] or ""))
    all_errors.sort(key=lambda e: e["path"])
    return {"certificates": certificates, "summary": summarize(certificates), "errors": all_errors}


def _error_path(entry: dict[str, Any]) -> str:
    if entry.get("kubeconfig_entry") is None:
        return str(entry["path"])
    kind = "cluster" if entry.get("kubeconfig_field") == "certificate-authority-data" else "user"
    return f"{entry['path']} ({kind} {entry['kubeconfig_entry']})"
