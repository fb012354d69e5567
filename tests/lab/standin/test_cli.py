"""``k3s certificate check|rotate`` and ``k3s --version`` in the formats real k3s prints."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from k3s_standin import certcmd, cli, pki, settings
from k3s_standin.layout import Layout

IDENTITY = pki.ServerIdentity("server", ("10.88.0.2",), ("lab.test",))  # as conftest's


def _write_lab(layout: Layout, **values: object) -> None:
    layout.etc_dir.mkdir(parents=True, exist_ok=True)
    layout.lab_yaml.write_text(settings.dump(settings.from_mapping(dict(values))))


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = cli.main(args, out=out)
    return code, out.getvalue(), capsys.readouterr().err


def _agent_files(layout: Layout) -> None:
    """An agent tree as a fetch from the server leaves it."""
    layout.agent_dir.mkdir(parents=True, exist_ok=True)
    for name in ("client-kube-proxy", "client-k3s-controller"):
        for ext in (".crt", ".key"):
            src = layout.tls_dir / f"{name}{ext}"
            (layout.agent_dir / f"{name}{ext}").write_bytes(src.read_bytes())


def test_version_is_a_lab_setting(server_tree: Layout, capsys: pytest.CaptureFixture[str]) -> None:
    _write_lab(server_tree, version="v1.33.1+k3s1")
    code, out, _ = _run(["--version"], capsys)
    assert code == 0
    assert out.startswith("k3s version v1.33.1+k3s1 (")
    assert "go version go" in out


def test_check_json_modern(server_tree: Layout, capsys: pytest.CaptureFixture[str]) -> None:
    _write_lab(server_tree, version="v1.32.5+k3s1")
    code, out, err = _run(["certificate", "check", "--output", "json"], capsys)
    assert code == 0, err
    assert "Server detected, checking agent and server certificates" in err
    document = json.loads(out)
    entries = document["Certificates"]
    admin = [e for e in entries if e["Filename"] == "client-admin.crt"]
    assert [e["Subject"] for e in admin] == ["system:admin", admin[1]["Subject"]]
    assert admin[1]["Subject"].startswith("k3s-client-ca@")
    assert admin[0]["Usages"] == ["ClientAuth"]
    assert admin[1]["Usages"] == ["CertSign"]
    assert admin[0]["Status"] == "OK"
    assert set(admin[0]) == {
        "Filename", "Subject", "Issuer", "Usages", "ExpiryTime", "ResidualTime", "Status",
    }  # fmt: skip
    residual_days = admin[0]["ResidualTime"] / 1e9 / 86400
    assert 364 < residual_days <= 365
    assert admin[0]["ExpiryTime"].endswith("Z")


def test_check_says_expired_after_the_breaker(
    server_tree: Layout, now: dt.datetime, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_lab(server_tree, version="v1.33.1+k3s1")
    pki.expire_leaves(server_tree, pki.CAKeys.from_tls_dir(server_tree.tls_dir), now)
    code, out, _ = _run(["certificate", "check", "-o", "json"], capsys)
    assert code == 0
    statuses = {
        e["Filename"]: e["Status"]
        for e in json.loads(out)["Certificates"]
        if "CertSign" not in e["Usages"]
    }
    assert statuses["client-admin.crt"] == "EXPIRED"
    assert set(statuses.values()) == {"EXPIRED"}
    code, out, _ = _run(["certificate", "check", "-o", "table"], capsys)
    lines = out.splitlines()
    assert lines[0] == ""
    assert lines[1].split() == [
        "FILENAME",
        "SUBJECT",
        "USAGES",
        "EXPIRES",
        "RESIDUAL",
        "TIME",
        "STATUS",
    ]
    admin = next(line for line in lines if line.startswith("client-admin.crt"))
    assert admin.endswith("EXPIRED")
    assert "1 day" in admin


def test_check_text_modern_goes_to_stderr_with_usages(
    server_tree: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_lab(server_tree, version="v1.33.1+k3s1")
    code, out, err = _run(["certificate", "check"], capsys)
    assert code == 0
    assert out == ""
    assert 'msg="client-admin.crt: certificate system:admin (ClientAuth) is ok, expires at ' in err


def test_check_old_generation_formats(
    server_tree: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_lab(server_tree, version="v1.31.4+k3s1")
    code, _, err = _run(["certificate", "check"], capsys)
    assert code == 0
    admin = str(server_tree.tls_dir / "client-admin.crt")
    assert f"{admin}: certificate CN=system:admin,O=system:masters is ok, expires at" in err
    assert 'msg="Checking certificates for admin"' in err
    code, out, _ = _run(["certificate", "check", "--output", "table"], capsys)
    assert out.splitlines()[1].split() == ["CERTIFICATE", "SUBJECT", "STATUS", "EXPIRES"]
    code, out, err = _run(["certificate", "check", "--output", "json"], capsys)
    assert code == 1
    assert "invalid output format json" in err


def test_check_and_rotate_absent_in_old_versions(
    server_tree: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_lab(server_tree, version="v1.28.5+k3s1")
    code, _, err = _run(["certificate", "check"], capsys)
    assert (code, err) == (3, "No help topic for 'check'\n")
    _write_lab(server_tree, version="v1.21.5+k3s1")
    code, _, err = _run(["certificate", "rotate"], capsys)
    assert (code, err) == (3, "No help topic for 'certificate'\n")
    _write_lab(server_tree, version="v1.31.4+k3s1", certificate_check=False)
    assert _run(["certificate", "check"], capsys)[0] == 3


def test_unknown_service_is_refused(
    server_tree: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(["certificate", "rotate", "-s", "kubelett"], capsys)
    assert code == 1
    assert "service kubelett is not recognized" in err


def test_rotate_backs_up_and_the_next_start_renews(
    server_tree: Layout, now: dt.datetime, capsys: pytest.CaptureFixture[str]
) -> None:
    _agent_files(server_tree)
    admin_before = (server_tree.tls_dir / "client-admin.crt").read_bytes()
    code, _, err = _run(["certificate", "rotate"], capsys)
    assert code == 0
    backups = sorted(server_tree.server_dir.glob("tls-*"))
    assert len(backups) == 1
    assert (backups[0] / "client-admin.crt").read_bytes() == admin_before
    assert (backups[0] / "client-ca.key").exists()
    assert f"Successfully backed up certificates to {backups[0]}" in err
    assert not (server_tree.tls_dir / "client-admin.crt").exists()
    assert not (server_tree.tls_dir / "client-admin.key").exists()
    assert not (server_tree.agent_dir / "client-kube-proxy.crt").exists()
    assert (server_tree.tls_dir / "client-ca.crt").exists()
    assert server_tree.dynamic_cert_regenerate.exists()
    report = pki.ensure_server_pki(server_tree, IDENTITY, now, 90)
    assert "client-admin.crt" in report.created
    assert (server_tree.tls_dir / "client-admin.crt").read_bytes() != admin_before


def test_rotate_one_service_on_an_agent(layout: Layout, tmp_path: Path) -> None:
    server = Layout(root=tmp_path / "srv", data_dir=tmp_path / "srv/var/lib/rancher/k3s")
    pki.ensure_server_pki(server, IDENTITY, pki.utcnow(), 90)
    _agent_files(server)
    layout.agent_dir.mkdir(parents=True)
    for path in server.agent_dir.iterdir():
        (layout.agent_dir / path.name).write_bytes(path.read_bytes())
    err = io.StringIO()
    backup = certcmd.rotate(layout, ["kube-proxy"], err, now=1700000000)
    assert backup == layout.agent_dir / "tls-1700000000"
    assert sorted(p.name for p in backup.iterdir()) == [
        "client-kube-proxy.crt",
        "client-kube-proxy.key",
    ]
    assert not (layout.agent_dir / "client-kube-proxy.crt").exists()
    assert (layout.agent_dir / "client-k3s-controller.crt").exists()
    assert not layout.dynamic_cert_regenerate.exists()


def test_humanize_matches_go_humanize() -> None:
    assert certcmd.humanize_rel(dt.timedelta(days=365)) == "1 year "
    assert certcmd.humanize_rel(dt.timedelta(days=-1, hours=-2)) == "1 day "
    assert certcmd.humanize_rel(dt.timedelta(days=100)) == "3 months "
    assert certcmd.go_duration(dt.timedelta(days=1, seconds=61)) == "24h1m1s"
