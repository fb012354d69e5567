"""``k3s-lab`` breakers and ``k3s_standin.install`` on a node root in a tmp dir."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import json
import os
import shutil
import stat
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from k3s_standin import install, labnode, pki, settings
from k3s_standin.layout import ROOT_ENV, Layout


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_certs_expired_rewrites_the_kubeconfig_with_the_expired_admin_cert(
    server_tree: Layout, now: dt.datetime
) -> None:
    from k3s_standin import kubeconfig  # noqa: PLC0415

    kubeconfig.write_admin_kubeconfig(server_tree, "0600")
    out = io.StringIO()
    assert labnode.main(["break", "certs-expired"], out=out) == 0
    assert f"re-signed {len(pki.SERVER_LEAVES)} leaves" in out.getvalue()
    data = yaml.safe_load(server_tree.kubeconfig.read_text())
    pem = data["users"][0]["user"]["client-certificate-data"]
    admin = pki.split_pem_certs(base64.b64decode(pem))[0]
    assert pki.not_after(admin) < now + dt.timedelta(minutes=1)
    assert pki.not_after(admin) < pki.utcnow()
    assert _mode(server_tree.kubeconfig) == 0o600
    facts = labnode.facts(server_tree)
    assert {leaf["status"] for leaf in facts["leaves"]} == {"EXPIRED"}


def test_agent_without_ca_and_server_says_what_to_do(layout: Layout) -> None:
    layout.agent_dir.mkdir(parents=True)
    assert labnode.main(["break", "certs-expired"], out=io.StringIO()) == 1


def test_ca_bundle_feeds_an_agent_breaker(
    server_tree: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    assert labnode.main(["ca-bundle"], out=out) == 0
    bundle = tmp_path / "cas.pem"
    bundle.write_text(out.getvalue())
    agent_root = tmp_path / "agent"
    agent = Layout(root=agent_root, data_dir=agent_root / "var/lib/rancher/k3s")
    agent.agent_dir.mkdir(parents=True)
    shutil.copy(server_tree.tls_dir / "client-kube-proxy.crt", agent.agent_dir)
    monkeypatch.setenv(ROOT_ENV, str(agent_root))
    assert (
        labnode.main(["break", "certs-expired", "--ca-from", str(bundle)], out=io.StringIO()) == 0
    )
    leaf = pki.load_certs(agent.agent_dir / "client-kube-proxy.crt")[0]
    assert pki.not_after(leaf) < pki.utcnow()


class FakeUsage(NamedTuple):
    total: int
    used: int
    free: int


def test_log_storm_writes_rotated_syslogs_and_fills_what_it_measured(
    layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = 3 << 20
    log = layout.host_path("/var/log")

    def usage(_path: object) -> FakeUsage:
        used = sum(p.stat().st_size for p in log.iterdir()) if log.exists() else 0
        return FakeUsage(budget, used, budget - used)

    monkeypatch.setattr(labnode.shutil, "disk_usage", usage)
    assert labnode.main(["break", "log-storm"], out=io.StringIO()) == 0
    names = sorted(p.name for p in log.iterdir())
    assert names == ["syslog", "syslog.1", *[f"syslog.{n}.gz" for n in range(2, 8)]]
    text = gzip.decompress((log / "syslog.3.gz").read_bytes()).decode()
    first = text.splitlines()[0]
    assert "k3s[1187]:" in first
    assert '"Failed to ensure lease exists, will retry" err="Unauthorized"' in first
    assert _mode(log / "syslog.2.gz") == 0o640
    day = dt.datetime.fromtimestamp((log / "syslog.3.gz").stat().st_mtime, dt.UTC).date()
    assert day == dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)
    total = sum(p.stat().st_size for p in log.iterdir())
    assert budget <= total <= budget + (1 << 20)


def test_clock_skew_break_and_heal(layout: Layout) -> None:
    library = layout.host_path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
    library.parent.mkdir(parents=True)
    library.write_bytes(b"")
    preload = layout.host_path("/etc/ld.so.preload")
    preload.parent.mkdir(parents=True, exist_ok=True)
    preload.write_text("/usr/lib/other.so\n")
    assert labnode.main(["break", "clock-skew", "--hours", "-6"], out=io.StringIO()) == 0
    assert layout.host_path("/etc/faketimerc").read_text() == "-21600\n"
    assert preload.read_text().splitlines() == [
        "/usr/lib/other.so",
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    ]
    assert labnode.main(["heal", "clock-skew"], out=io.StringIO()) == 0
    assert preload.read_text() == "/usr/lib/other.so\n"
    assert not layout.host_path("/etc/faketimerc").exists()


def test_clock_skew_without_libfaketime_fails_clearly(
    layout: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    assert labnode.main(["break", "clock-skew"], out=io.StringIO()) == 1
    assert "libfaketime is not installed" in capsys.readouterr().err


def test_install_writes_units_like_get_k3s_io(layout: Layout) -> None:
    argv = [
        "agent", "--node-name", "agent1", "--server", "https://server:6443", "--token", "T0k",
        "--version", "v1.30.13+k3s1", "--lab-setting", "node_grace_seconds=15",
        "--lab-setting", "certificate_rotate=false",
    ]  # fmt: skip
    assert install.main(argv) == 0
    unit = layout.host_path("/etc/systemd/system/k3s-agent.service").read_text()
    assert "Type=notify" in unit
    assert "EnvironmentFile=-/etc/systemd/system/k3s-agent.service.env" in unit
    assert "Restart=always\nRestartSec=5s" in unit
    assert "ExecStart=/usr/local/bin/k3s \\\n    agent \\\n" in unit
    env = layout.host_path("/etc/systemd/system/k3s-agent.service.env")
    assert env.read_text() == "K3S_TOKEN='T0k'\nK3S_URL='https://server:6443'\n"
    assert _mode(env) == 0o600
    k3s = layout.host_path("/usr/local/bin/k3s")
    assert os.access(k3s, os.X_OK)
    assert "python3 -m k3s_standin.cli" in k3s.read_text()
    config = yaml.safe_load(layout.config_yaml.read_text())
    assert config == {"node-name": "agent1", "token": "T0k", "server": "https://server:6443"}
    lab = settings.load(layout.lab_yaml)
    assert (lab.version, lab.node_grace_seconds, lab.certificate_rotate) == (
        "v1.30.13+k3s1", 15.0, False,
    )  # fmt: skip
    assert lab.renew_window_days == 120
    assert lab.certificate_check is True


def test_install_refuses_unknown_settings(
    layout: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["server", "--node-name", "s", "--token", "t", "--lab-setting", "nope=1"]
    assert install.main(argv) == 1
    assert "unknown lab setting(s) nope" in capsys.readouterr().err


def test_facts_report_disk_and_units(server_tree: Layout) -> None:
    log = server_tree.host_path("/var/log")
    log.mkdir(parents=True)
    out = io.StringIO()
    assert labnode.main(["facts", "--json"], out=out) == 0
    data = json.loads(out.getvalue())
    assert data["role"] == "server"
    assert data["disk"]["/var/log"]["total"] > 0
    assert data["units"] == {"k3s": "absent", "k3s-agent": "absent"}
    assert data["clock_skew"] is None


def test_go_wording_of_socket_errors() -> None:
    from k3s_standin import gotls  # noqa: PLC0415

    host = "127.0.0.1:6444"
    assert gotls.os_error_text(ConnectionRefusedError(), host) == (
        "dial tcp 127.0.0.1:6444: connect: connection refused"
    )
    assert gotls.os_error_text(ConnectionResetError(), host).endswith(
        "read: connection reset by peer"
    )
    url = "https://127.0.0.1:6444/v1-k3s/config"
    assert gotls.request_error("GET", url, "x") == 'Get "https://127.0.0.1:6444/v1-k3s/config": x'


def test_fail_start_after_rotation_fails_once(server_tree: Layout) -> None:
    from k3s_standin import server  # noqa: PLC0415

    assert server.fail_once_after_rotation(server_tree) is False
    certcmd_err = io.StringIO()
    from k3s_standin import certcmd  # noqa: PLC0415

    certcmd.rotate(server_tree, [], certcmd_err)
    assert server.fail_once_after_rotation(server_tree) is True
    assert server.fail_once_after_rotation(server_tree) is False


def test_cert_monitor_findings_word_k3s_events(server_tree: Layout, now: dt.datetime) -> None:
    from k3s_standin import certmonitor  # noqa: PLC0415

    assert certmonitor.findings(server_tree, 120, now, first=True) == [
        ("Normal", "CertificateExpirationOK",
         "Node and Certificate Authority certificates managed by k3s are OK"),
    ]  # fmt: skip
    assert certmonitor.findings(server_tree, 120, now, first=False) == []
    later = now + dt.timedelta(days=300)
    ((kind, reason, message),) = certmonitor.findings(server_tree, 120, later, first=False)
    assert (kind, reason) == ("Warning", "CertificateExpirationWarning")
    assert message.startswith(
        "Node certificates require attention - restart k3s on this node to trigger automatic "
        "rotation: "
    )
    assert (
        "admin/client-admin.crt: certificate CN=system:admin,O=system:masters will expire "
        "within 120 days at" in message
    )
    much_later = now + dt.timedelta(days=3400)
    reasons = [r for _, r, _ in certmonitor.findings(server_tree, 120, much_later, first=False)]
    assert reasons == ["CertificateExpirationWarning", "CACertificateExpirationWarning"]
