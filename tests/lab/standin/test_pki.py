"""The certificate tree a k3s server start leaves behind, and its renewal rules."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

from cryptography.x509.oid import ExtendedKeyUsageOID

from k3s_standin import dynamiccert, pki
from k3s_standin.layout import Layout

IDENTITY = pki.ServerIdentity("server", ("10.88.0.2",), ("lab.test",))  # as conftest's


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_server_tree_has_k3s_names(server_tree: Layout) -> None:
    tls = server_tree.tls_dir
    expected = [
        "server-ca.crt", "server-ca.key", "client-ca.crt", "client-ca.key",
        "request-header-ca.crt", "request-header-ca.key", "client-ca.nochain.crt",
        "server-ca.nochain.crt", "etcd/server-ca.crt", "etcd/peer-ca.crt",
        "etcd/server-client.crt", "etcd/peer-server-client.crt", "etcd/client.crt",
        "client-admin.crt", "client-supervisor.crt", "client-controller.crt",
        "client-scheduler.crt", "client-kube-apiserver.crt", "client-kube-proxy.crt",
        "client-k3s-controller.crt", "client-k3s-cloud-controller.crt", "client-auth-proxy.crt",
        "serving-kube-apiserver.crt", "client-kubelet.key", "serving-kubelet.key",
        "service.key", "service.current.key",
    ]  # fmt: skip
    missing = [name for name in expected if not (tls / name).exists()]
    assert missing == []
    assert (tls / "temporary-certs").is_dir()
    assert (server_tree.cred_dir / "admin.kubeconfig").exists()
    assert "https://127.0.0.1:6444" in (server_tree.cred_dir / "admin.kubeconfig").read_text()


def test_keys_and_leaves_are_private_and_cas_public(server_tree: Layout) -> None:
    tls = server_tree.tls_dir
    for key in tls.rglob("*.key"):
        assert _mode(key) == 0o600, key
    assert _mode(tls / "client-admin.crt") == 0o600
    assert _mode(tls / "server-ca.crt") == 0o644
    assert _mode(server_tree.cred_dir / "admin.kubeconfig") == 0o600


def test_leaf_files_are_leaf_plus_ca_bundles(server_tree: Layout) -> None:
    tls = server_tree.tls_dir
    admin = pki.load_certs(tls / "client-admin.crt")
    ca = pki.load_certs(tls / "client-ca.crt")[0]
    assert len(admin) == 2
    assert admin[1] == ca
    assert pki.go_subject(admin[0].subject) == "CN=system:admin,O=system:masters"
    assert pki.common_name(ca).startswith("k3s-client-ca@")
    assert pki.authority_key_id(admin[0]) == pki.subject_key_id(ca)
    assert pki.not_before(admin[0]) == pki.not_before(ca)
    nochain = pki.load_certs(tls / "client-ca.nochain.crt")
    assert nochain == [ca]


def test_serving_apiserver_cert_carries_kubernetes_sans(server_tree: Layout) -> None:
    subject = pki.subject_of(pki.load_certs(server_tree.tls_dir / "serving-kube-apiserver.crt")[0])
    assert subject.common_name == "kube-apiserver"
    assert "kubernetes.default.svc.cluster.local" in subject.dns_names
    assert "lab.test" in subject.dns_names
    assert {"10.43.0.1", "127.0.0.1", "10.88.0.2"} <= set(subject.ips)
    assert subject.usages == (pki.SERVER,)
    peer = pki.load_certs(server_tree.tls_dir / "etcd/peer-server-client.crt")[0]
    usages = list(peer.extensions.get_extension_for_class(pki.x509.ExtendedKeyUsage).value)
    assert usages == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]


def _fingerprints(layout: Layout) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in layout.tls_dir.rglob("*") if path.is_file()}


def test_restart_outside_window_changes_nothing(server_tree: Layout, now: dt.datetime) -> None:
    before = _fingerprints(server_tree)
    report = pki.ensure_server_pki(server_tree, IDENTITY, now + dt.timedelta(days=30), 90)
    assert report.renewed == []
    assert report.created == []
    assert _fingerprints(server_tree) == before


def test_restart_inside_window_renews_every_leaf_with_same_keys(
    server_tree: Layout, now: dt.datetime
) -> None:
    tls = server_tree.tls_dir
    keys_before = {p.name: p.read_bytes() for p in tls.rglob("*.key")}
    cas_before = (tls / "client-ca.crt").read_bytes()
    later = now + dt.timedelta(days=365 - 100)  # 100 days left: inside 120, outside 90
    assert pki.ensure_server_pki(server_tree, IDENTITY, later, 90).renewed == []
    report = pki.ensure_server_pki(server_tree, IDENTITY, later, 120)
    assert len(report.renewed) == len(pki.SERVER_LEAVES)
    admin = pki.load_certs(tls / "client-admin.crt")[0]
    assert pki.not_after(admin) == later + dt.timedelta(days=365)
    assert {p.name: p.read_bytes() for p in tls.rglob("*.key")} == keys_before
    assert (tls / "client-ca.crt").read_bytes() == cas_before


def test_start_renews_expired_leaves(server_tree: Layout, now: dt.datetime) -> None:
    cas = pki.CAKeys.from_tls_dir(server_tree.tls_dir)
    expired = pki.expire_leaves(server_tree, cas, now)
    assert len(expired) == len(pki.SERVER_LEAVES)
    admin = pki.load_certs(server_tree.tls_dir / "client-admin.crt")[0]
    assert pki.not_after(admin) < now
    report = pki.ensure_server_pki(server_tree, IDENTITY, now, 90)
    assert len(report.renewed) == len(pki.SERVER_LEAVES)
    assert pki.not_after(pki.load_certs(server_tree.tls_dir / "client-admin.crt")[0]) > now


def test_deleted_leaves_are_recreated_from_the_ca(server_tree: Layout, now: dt.datetime) -> None:
    (server_tree.tls_dir / "client-admin.crt").unlink()
    (server_tree.tls_dir / "client-admin.key").unlink()
    report = pki.ensure_server_pki(server_tree, IDENTITY, now, 90)
    assert report.created == ["client-admin.crt"]


def test_ca_bundle_round_trip_resigns_agent_leaves(server_tree: Layout, now: dt.datetime) -> None:
    bundle = pki.CAKeys.from_tls_dir(server_tree.tls_dir).to_pem_bundle()
    cas = pki.CAKeys.from_pem_bundle(bundle)
    assert len(cas.by_key_id) == len(pki.SERVER_CAS)
    target = server_tree.agent_dir / "client-kube-proxy.crt"
    target.parent.mkdir(parents=True)
    target.write_bytes((server_tree.tls_dir / "client-kube-proxy.crt").read_bytes())
    leaf = pki.resign_bundle(target, cas, *pki.year_passed_dates(now))
    assert pki.not_after(leaf) == now - dt.timedelta(days=1)
    assert pki.common_name(leaf) == "system:kube-proxy"


def test_dynamic_cert_json_is_a_tls_secret(server_tree: Layout, now: dt.datetime) -> None:
    serving = dynamiccert.generate(server_tree, IDENTITY, now)
    dynamiccert.write_file(server_tree, serving)
    path = server_tree.dynamic_cert
    assert _mode(path) == 0o600
    text = path.read_text()
    assert text.endswith("}\n")
    secret = dynamiccert.json.loads(text)
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"]["name"] == "k3s-serving"
    assert secret["metadata"]["annotations"]["listener.cattle.io/cn-10.43.0.1"] == "10.43.0.1"
    loaded = dynamiccert.read_file(server_tree)
    assert loaded == serving
    leaf = loaded.leaf
    assert pki.go_subject(leaf.subject) == "CN=k3s,O=k3s"
    assert "kubernetes.default.svc" in pki.subject_of(leaf).dns_names
    expired = dynamiccert.expire(server_tree, serving, now)
    assert pki.not_after(expired.leaf) < now
    assert expired.key_pem == serving.key_pem
