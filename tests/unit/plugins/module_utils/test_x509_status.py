"""The controller side: statuses, dates, bundles, sorting and the summary."""

from __future__ import annotations

import base64
import importlib.util
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from ansible_collections.remedy.k3s.plugins.module_utils import x509_scan, x509_status

ROOT = Path(__file__).resolve().parents[4]
_spec = importlib.util.spec_from_file_location("k3s_cert_tree", ROOT / "bench" / "k3s_cert_tree.py")
tree = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tree)

ISSUED = datetime(2026, 1, 1, tzinfo=UTC)
EXPIRES = ISSUED + timedelta(days=365)


@pytest.fixture(scope="module")
def ca():
    return tree.make_certificate(tree._name("k3s-client-ca@1"), ISSUED, 3650, is_ca=True)


@pytest.fixture(scope="module")
def leaf(ca):
    return tree.make_certificate(tree._name("system:admin", "system:masters"), ISSUED, 365, ca)


def der(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def entry(path: str, *certs, source: str = "file", **extra) -> dict:
    return {
        "path": path,
        "source": source,
        "der": [base64.b64encode(der(c)).decode() for c in certs],
        **extra,
    }


# --- statuses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "status"),
    [
        (ISSUED - timedelta(seconds=1), "not_yet_valid"),
        (ISSUED, "ok"),
        (EXPIRES - timedelta(days=90, seconds=1), "ok"),
        (EXPIRES - timedelta(days=90), "expiring"),
        (EXPIRES - timedelta(seconds=1), "expiring"),
        (EXPIRES, "expired"),
        (EXPIRES + timedelta(days=400), "expired"),
    ],
)
def test_every_status_at_its_boundary(leaf, now, status):
    facts = x509_status.describe_certificates([der(leaf.cert)], now, warn_days=90)
    assert facts["status"] == status


def test_warn_days_moves_the_expiring_window(leaf):
    now = EXPIRES - timedelta(days=100)
    assert x509_status.describe_certificates([der(leaf.cert)], now, 90)["status"] == "ok"
    assert x509_status.describe_certificates([der(leaf.cert)], now, 120)["status"] == "expiring"
    assert x509_status.describe_certificates([der(leaf.cert)], now, 0)["status"] == "ok"


def test_facts_of_a_bundle_describe_its_first_certificate(ca, leaf):
    now = EXPIRES + timedelta(days=1, hours=12)
    facts = x509_status.describe_certificates([der(leaf.cert), der(ca.cert)], now, 90)
    assert facts == {
        "subject": "CN=system:admin,O=system:masters",
        "issuer": "CN=k3s-client-ca@1",
        "serial": f"{leaf.cert.serial_number:X}".rjust(len(facts["serial"]), "0"),
        "not_before": "2026-01-01T00:00:00Z",
        "not_after": "2027-01-01T00:00:00Z",
        "days_left": -1.5,
        "status": "expired",
        "is_ca": False,
        "chain_length": 2,
    }
    assert len(facts["serial"]) % 2 == 0
    assert int(facts["serial"], 16) == leaf.cert.serial_number


def test_ca_is_recognised(ca):
    assert x509_status.describe_certificates([der(ca.cert)], ISSUED, 90)["is_ca"] is True


@pytest.mark.parametrize(("serial", "text"), [(1, "01"), (0xABC, "0ABC"), (0x1234, "1234")])
def test_serial_hex_is_even_length_upper_case(serial, text):
    assert x509_status.serial_hex(serial) == text


def test_unparseable_der_raises(ca):
    with pytest.raises(ValueError, match=r"not a valid X\.509 certificate"):
        x509_status.describe_certificates([b"\x30\x03\x02\x01\x00"], ISSUED, 90)
    with pytest.raises(ValueError, match="certificate 2 of 2"):
        x509_status.describe_certificates([der(ca.cert), b"junk"], ISSUED, 90)


# --- at -------------------------------------------------------------------------------


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "moment"),
    [
        (None, NOW),
        ("", NOW),
        ("2027-03-01T06:00:00Z", datetime(2027, 3, 1, 6, 0, tzinfo=UTC)),
        ("2027-03-01T07:00:00+01:00", datetime(2027, 3, 1, 6, 0, tzinfo=UTC)),
        ("2027-02-28T20:30:00-09:30", datetime(2027, 3, 1, 6, 0, tzinfo=UTC)),
    ],
)
def test_at_is_read_as_utc(value, moment):
    parsed = x509_status.parse_moment(value, NOW)
    assert parsed == moment
    assert parsed.utcoffset() == timedelta(0)


def test_at_with_offset_and_with_z_give_the_same_verdict(leaf):
    moments = [
        x509_status.parse_moment(v, NOW)
        for v in ("2026-12-31T23:00:00Z", "2027-01-01T00:00:00+01:00")
    ]
    facts = [x509_status.describe_certificates([der(leaf.cert)], m, 90) for m in moments]
    assert facts[0] == facts[1]
    assert facts[0]["days_left"] == pytest.approx(1 / 24, abs=0.001)


@pytest.mark.parametrize(
    ("value", "hint"),
    [("2027-03-01T06:00:00", "no UTC offset"), ("next tuesday", "not an ISO 8601")],
)
def test_bad_at_tells_the_operator_how_to_write_it(value, hint):
    with pytest.raises(ValueError, match=hint) as info:
        x509_status.parse_moment(value, NOW)
    assert "Z" in str(info.value)


def test_iso_utc_converts_offsets():
    moment = datetime(2027, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))
    assert x509_status.iso_utc(moment) == "2027-01-01T00:00:00Z"


# --- build_report ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed(ca):
    """Certificates in each state at NOW, as (name, certificate)."""

    def cert(name: str, start: datetime, days: int):
        return tree.make_certificate(tree._name(name), start, days, ca).cert

    return {
        "future": cert("future", NOW + timedelta(days=1), 365),
        "expired": cert("expired", NOW - timedelta(days=400), 365),
        "expiring": cert("expiring", NOW - timedelta(days=300), 365),
        "ok": cert("ok", NOW - timedelta(days=10), 365),
    }


def test_report_sorts_counts_and_keeps_errors(ca, mixed):
    collected = [
        entry("/k/server/tls/ok.crt", mixed["ok"], ca.cert),
        entry("/k/server/tls/future.crt", mixed["future"]),
        entry("/k/server/tls/ca.crt", ca.cert),
        entry("/k/server/tls/expired.crt", mixed["expired"], ca.cert),
        entry(
            "/etc/rancher/k3s/k3s.yaml",
            mixed["expiring"],
            source="kubeconfig",
            kubeconfig_entry="default",
            kubeconfig_field="client-certificate-data",
        ),
        {"path": "/k/server/tls/bad.crt", "source": "file", "der": ["!!!"]},
        {
            "path": "/etc/rancher/k3s/k3s.yaml",
            "source": "kubeconfig",
            "kubeconfig_entry": "lab",
            "kubeconfig_field": "certificate-authority-data",
            "der": [base64.b64encode(b"junk").decode()],
        },
    ]
    node_errors = [{"path": "/k/agent/a.crt", "msg": "cannot read: Permission denied"}]

    report = x509_status.build_report(collected, node_errors, NOW, 90)

    certs = report["certificates"]
    assert [c["status"] for c in certs] == ["expired", "expiring", "ok", "not_yet_valid", "ok"]
    assert [c["not_after"] for c in certs] == sorted(c["not_after"] for c in certs)
    assert certs[0]["path"] == "/k/server/tls/expired.crt"
    assert certs[0]["days_left"] < 0
    assert certs[0]["chain_length"] == 2
    assert certs[1]["kubeconfig_entry"] == "default"
    assert certs[1]["source"] == "kubeconfig"
    assert certs[-1]["is_ca"] is True
    assert report["summary"] == {
        "total": 5,
        "ok": 2,
        "expiring": 1,
        "expired": 1,
        "not_yet_valid": 1,
        "earliest_not_after": certs[0]["not_after"],
        "earliest_path": "/k/server/tls/expired.crt",
    }
    assert report["errors"] == [
        {
            "path": "/etc/rancher/k3s/k3s.yaml (cluster lab)",
            "msg": "not a valid X.509 certificate",
        },
        {"path": "/k/agent/a.crt", "msg": "cannot read: Permission denied"},
        {"path": "/k/server/tls/bad.crt", "msg": "the node sent invalid base64"},
    ]


def test_empty_report():
    report = x509_status.build_report([], [], NOW, 90)
    assert report == {
        "certificates": [],
        "summary": {
            "total": 0,
            "ok": 0,
            "expiring": 0,
            "expired": 0,
            "not_yet_valid": 0,
            "earliest_not_after": None,
            "earliest_path": None,
        },
        "errors": [],
    }


def test_incident_tree_end_to_end(tmp_path):
    """A server whose leaves were issued 400 days ago: leaves expired, CAs fine."""
    now = datetime(2027, 6, 1, tzinfo=UTC)
    data_dir = tree.write_server_tree(tmp_path, now - timedelta(days=400))
    (data_dir / "server/tls/locked.crt").mkdir()
    (data_dir / "agent/oops.crt").write_bytes(
        tree.key_pem(tree.make_certificate(tree._name("x"), now, 1).key)
    )
    scanned = x509_scan.scan(str(data_dir), [str(tmp_path / "etc/rancher/k3s/k3s.yaml")])

    report = x509_status.build_report(scanned["collected"], scanned["errors"], now, 90)

    by_status: dict[str, set[bool]] = {}
    for cert in report["certificates"]:
        by_status.setdefault(cert["status"], set()).add(cert["is_ca"])
    assert by_status == {"expired": {False}, "ok": {True}}
    assert report["summary"]["total"] == 30
    assert report["summary"]["expired"] == 30 - report["summary"]["ok"]
    assert report["errors"] == [
        {
            "path": str(data_dir / "agent/oops.crt"),
            "msg": "no certificate in this PEM file, found: EC PRIVATE KEY",
        }
    ]
