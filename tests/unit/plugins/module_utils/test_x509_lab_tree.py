"""cert_info against the incident lab's k3s stand-in tree: what the runbook will meet."""

from __future__ import annotations

import datetime as dt

from ansible_collections.remedy.k3s.plugins.module_utils import x509_scan, x509_status
from k3s_standin import dynamiccert, pki
from k3s_standin.layout import Layout

IDENTITY = pki.ServerIdentity("server", ("10.88.0.2",), ("lab.test",))
NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def test_every_lab_certificate_is_found_and_parsed(tmp_path):
    layout = Layout(root=tmp_path, data_dir=tmp_path / "var/lib/rancher/k3s")
    pki.ensure_server_pki(layout, IDENTITY, NOW, window_days=90)
    dynamiccert.write_file(layout, dynamiccert.generate(layout, IDENTITY, NOW))

    scanned = x509_scan.scan(str(layout.data_dir), [])
    report = x509_status.build_report(scanned["collected"], scanned["errors"], NOW, 90)

    assert report["errors"] == []
    files = {c["path"]: c for c in report["certificates"] if c["source"] == "file"}
    on_disk = sorted(layout.tls_dir.rglob("*.crt"))
    assert sorted(files) == [str(p) for p in on_disk]
    for path in on_disk:
        certs = pki.load_certs(path)
        assert files[str(path)]["not_after"] == x509_status.iso_utc(pki.not_after(certs[0]))
        assert files[str(path)]["chain_length"] == len(certs)
    assert {c["status"] for c in report["certificates"]} == {"ok"}
    [dynamic] = [c for c in report["certificates"] if c["source"] == "dynamic"]
    assert dynamic["subject"] == "CN=k3s,O=k3s"
    assert dynamic["chain_length"] == 2


def test_lab_leaves_expire_a_year_later(tmp_path):
    layout = Layout(root=tmp_path, data_dir=tmp_path / "var/lib/rancher/k3s")
    pki.ensure_server_pki(layout, IDENTITY, NOW, window_days=90)

    scanned = x509_scan.scan(str(layout.data_dir), [])
    later = NOW + dt.timedelta(days=pki.LEAF_DAYS + 1)
    report = x509_status.build_report(scanned["collected"], scanned["errors"], later, 90)

    statuses = {(c["is_ca"], c["status"]) for c in report["certificates"]}
    assert statuses == {(True, "ok"), (False, "expired")}
