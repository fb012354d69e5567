"""The node-side collector: which files, which bytes, and never a private key."""

from __future__ import annotations

import base64
import importlib.util
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.remedy.k3s.plugins.module_utils import x509_scan

ROOT = Path(__file__).resolve().parents[4]
_spec = importlib.util.spec_from_file_location("k3s_cert_tree", ROOT / "bench" / "k3s_cert_tree.py")
tree = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tree)

ISSUED = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def ca():
    return tree.make_certificate(tree._name("test-ca"), ISSUED, 3650, is_ca=True)


@pytest.fixture(scope="module")
def leaf(ca):
    return tree.make_certificate(tree._name("leaf"), ISSUED, 365, ca)


def der(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def key_body_lines(key_pem: bytes) -> list[str]:
    """The base64 lines of a PEM key: none of them may appear in any output."""
    return [line for line in key_pem.decode().splitlines() if line and "-----" not in line]


# --- extract_certificates -------------------------------------------------------------


def test_bundle_yields_every_certificate_in_file_order(ca, leaf):
    assert x509_scan.extract_certificates(tree.pem(leaf.cert, ca.cert)) == [
        der(leaf.cert),
        der(ca.cert),
    ]


def test_der_file_is_passed_through(leaf):
    assert x509_scan.extract_certificates(der(leaf.cert)) == [der(leaf.cert)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"  \n", "empty file"),
        (b"this is not a certificate\n", "neither PEM nor a DER certificate"),
        (bytes(range(256)), "neither PEM nor a DER certificate"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n", "without a matching END"),
        (b"-----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----\n", "base64"),
    ],
)
def test_garbage_is_a_scan_error(data, message):
    with pytest.raises(x509_scan.ScanError, match=message):
        x509_scan.extract_certificates(data)


def test_pem_private_key_is_named_never_quoted(leaf):
    key_pem = tree.key_pem(leaf.key)
    with pytest.raises(x509_scan.ScanError) as info:
        x509_scan.extract_certificates(key_pem)
    assert "EC PRIVATE KEY" in str(info.value)
    assert not any(line in str(info.value) for line in key_body_lines(key_pem))


@pytest.mark.parametrize(
    "encryption",
    [serialization.NoEncryption(), serialization.BestAvailableEncryption(b"pw")],
)
def test_der_private_key_is_not_mistaken_for_a_certificate(encryption):
    key = ec.generate_private_key(ec.SECP256R1())
    key_der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, encryption
    )
    assert not x509_scan.looks_like_der_certificate(key_der)
    with pytest.raises(x509_scan.ScanError):
        x509_scan.extract_certificates(key_der)


def test_key_next_to_a_certificate_is_dropped(leaf):
    data = tree.pem(leaf.cert) + tree.key_pem(leaf.key)
    assert x509_scan.extract_certificates(data) == [der(leaf.cert)]


def test_truncated_der_is_not_a_certificate(leaf):
    assert not x509_scan.looks_like_der_certificate(der(leaf.cert)[:-1])
    assert not x509_scan.looks_like_der_certificate(der(leaf.cert) + b"\x00")


# --- certificate_files ----------------------------------------------------------------


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_certificate_files_follow_k3s_layout(tmp_path):
    wanted = [
        touch(tmp_path / "agent/client-kubelet.crt"),
        touch(tmp_path / "server/tls/client-admin.crt"),
        touch(tmp_path / "server/tls/etcd/peer-ca.crt"),
        touch(tmp_path / "server/tls/temporary-certs/apiserver-loopback-client__.crt"),
    ]
    for unwanted in (
        "server/tls/client-admin.key",
        "server/tls/dynamic-cert.json",
        "server/tls-1700000000/client-admin.crt",
        "agent/tls-1700000000/client-kubelet.crt",
        "agent/containerd/io.containerd.snapshotter/foo.crt",
        "agent/client-kubelet.key",
    ):
        touch(tmp_path / unwanted)
    (tmp_path / "agent/a-directory.crt").mkdir()

    files, errors = x509_scan.certificate_files(str(tmp_path))

    assert files == sorted(str(p) for p in wanted)
    assert errors == []


def test_missing_directories_are_not_errors(tmp_path):
    assert x509_scan.certificate_files(str(tmp_path / "absent")) == ([], [])
    assert x509_scan.scan(str(tmp_path / "absent"), [str(tmp_path / "no.yaml")]) == {
        "collected": [],
        "errors": [],
    }


def test_agent_only_node(tmp_path, ca, leaf):
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent/client-kubelet.crt").write_bytes(tree.pem(leaf.cert, ca.cert))
    result = x509_scan.scan(str(tmp_path), [])
    assert [e["path"] for e in result["collected"]] == [str(tmp_path / "agent/client-kubelet.crt")]
    assert result["errors"] == []


# --- scan -----------------------------------------------------------------------------


def decoded(entry: dict) -> list[bytes]:
    return [base64.b64decode(item) for item in entry["der"]]


def test_scan_ships_ders_and_reports_bad_files(tmp_path, ca, leaf):
    tls = tmp_path / "server/tls"
    tls.mkdir(parents=True)
    (tls / "client-admin.crt").write_bytes(tree.pem(leaf.cert, ca.cert))
    (tls / "der.crt").write_bytes(der(ca.cert))
    (tls / "garbage.crt").write_bytes(b"\x00garbage")
    key_pem = tree.key_pem(leaf.key)
    (tls / "swapped.crt").write_bytes(key_pem)

    result = x509_scan.scan(str(tmp_path), [])

    by_path = {e["path"]: e for e in result["collected"]}
    assert decoded(by_path[str(tls / "client-admin.crt")]) == [der(leaf.cert), der(ca.cert)]
    assert decoded(by_path[str(tls / "der.crt")]) == [der(ca.cert)]
    assert {e["source"] for e in result["collected"]} == {"file"}
    assert result["errors"] == [
        {"path": str(tls / "garbage.crt"), "msg": "neither PEM nor a DER certificate"},
        {
            "path": str(tls / "swapped.crt"),
            "msg": "no certificate in this PEM file, found: EC PRIVATE KEY",
        },
    ]
    shipped = json.dumps(result)
    assert not any(line in shipped for line in key_body_lines(key_pem))


def test_unreadable_files_become_errors(tmp_path, ca, leaf):
    tls = tmp_path / "server/tls"
    tls.mkdir(parents=True)
    for name in ("client-admin.crt", "locked.crt"):
        (tls / name).write_bytes(tree.pem(leaf.cert, ca.cert))
    (tls / "dynamic-cert.json").write_text(tree.dynamic_cert_secret(leaf, ca.cert))
    kubeconfig = tmp_path / "k3s.yaml"
    kubeconfig.write_text(tree.kubeconfig_text(ca.cert, leaf))
    locked = {str(tls / "locked.crt"), str(tls / "dynamic-cert.json"), str(kubeconfig)}

    def read(path: str) -> bytes:
        if path in locked:
            raise PermissionError(13, "Permission denied", path)
        return x509_scan.read_bytes(path)

    result = x509_scan.scan(str(tmp_path), [str(kubeconfig)], read=read)

    assert [e["path"] for e in result["collected"]] == [str(tls / "client-admin.crt")]
    assert sorted(result["errors"], key=lambda e: e["path"]) == sorted(
        ({"path": p, "msg": "cannot read: Permission denied"} for p in locked),
        key=lambda e: e["path"],
    )


def test_real_read_error_of_a_directory_named_like_a_kubeconfig(tmp_path):
    (tmp_path / "k3s.yaml").mkdir()
    result = x509_scan.scan(str(tmp_path), [str(tmp_path / "k3s.yaml")])
    assert result["errors"] == [
        {"path": str(tmp_path / "k3s.yaml"), "msg": "cannot read: Is a directory"}
    ]


# --- dynamic-cert.json ----------------------------------------------------------------


def test_dynamic_cert_json_yields_tls_crt_only(tmp_path, ca, leaf):
    tls = tmp_path / "server/tls"
    tls.mkdir(parents=True)
    (tls / "dynamic-cert.json").write_text(tree.dynamic_cert_secret(leaf, ca.cert))

    result = x509_scan.scan(str(tmp_path), [])

    [entry] = result["collected"]
    assert entry["source"] == "dynamic"
    assert entry["path"] == str(tls / "dynamic-cert.json")
    assert decoded(entry) == [der(leaf.cert), der(ca.cert)]
    secret = json.loads((tls / "dynamic-cert.json").read_text())
    assert secret["data"]["tls.key"] not in json.dumps(result)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"data": {"tls.key": "AAAA"}}', 'no data."tls.crt"'),
        ('{"data": {"tls.crt": "%%%"}}', "not valid base64"),
        ("[]", 'no data."tls.crt"'),
    ],
)
def test_broken_dynamic_cert_json_is_an_error(tmp_path, content, message):
    tls = tmp_path / "server/tls"
    tls.mkdir(parents=True)
    (tls / "dynamic-cert.json").write_text(content)
    result = x509_scan.scan(str(tmp_path), [])
    assert result["collected"] == []
    [error] = result["errors"]
    assert error["path"] == str(tls / "dynamic-cert.json")
    assert message in error["msg"]


# --- kubeconfigs ----------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def multi_config(ca, leaf):
    """Two clusters, three users (one with a token only), as a Python structure."""
    other = tree.make_certificate(tree._name("other"), ISSUED, 30, ca)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "prod",
                "cluster": {
                    "server": "https://a:6443",
                    "certificate-authority-data": b64(tree.pem(ca.cert)),
                },
            },
            {
                "name": "lab",
                "cluster": {
                    "certificate-authority-data": b64(tree.pem(leaf.cert, ca.cert)),
                    "server": "https://b:6443",
                },
            },
        ],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "admin"}}],
        "current-context": "prod",
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate-data": b64(tree.pem(leaf.cert)),
                    "client-key-data": b64(tree.key_pem(leaf.key)),
                },
            },
            {"name": "robot", "user": {"token": "abc"}},
            {
                "name": "ops",
                "user": {
                    "client-key-data": b64(tree.key_pem(other.key)),
                    "client-certificate-data": b64(tree.pem(other.cert)),
                },
            },
        ],
    }


def expected_fields(config: dict) -> list[tuple[str, str, str]]:
    return [
        (c["name"], "certificate-authority-data", c["cluster"]["certificate-authority-data"])
        for c in config["clusters"]
    ] + [
        (u["name"], "client-certificate-data", u["user"]["client-certificate-data"])
        for u in config["users"]
        if "client-certificate-data" in u["user"]
    ]


class IndentedListDumper(yaml.SafeDumper):
    """Indents list items under their key (``  - name:``), as many hand-written files do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


@pytest.mark.parametrize(
    "render",
    [
        pytest.param(lambda c: yaml.safe_dump(c, sort_keys=True), id="kubectl-style"),
        pytest.param(lambda c: yaml.safe_dump(c, sort_keys=False), id="name-first"),
        pytest.param(
            lambda c: yaml.dump(c, Dumper=IndentedListDumper, default_style='"'),
            id="indented-and-quoted",
        ),
        pytest.param(lambda c: json.dumps(c, indent=2), id="json"),
    ],
)
def test_kubeconfig_fields_match_a_real_yaml_parser(multi_config, render):
    text = render(multi_config)
    assert sorted(x509_scan.kubeconfig_fields(text)) == sorted(expected_fields(multi_config))


def test_kubeconfig_k3s_layout(ca, leaf):
    fields = x509_scan.kubeconfig_fields(tree.kubeconfig_text(ca.cert, leaf))
    assert fields == [
        ("default", "certificate-authority-data", b64(tree.pem(ca.cert))),
        ("default", "client-certificate-data", b64(tree.pem(leaf.cert))),
    ]


def test_nested_names_do_not_split_a_user():
    text = (
        "users:\n"
        "- name: exec-user\n"
        "  user:\n"
        "    exec:\n"
        "      env:\n"
        "      - name: NOT_A_USER\n"
        "        value: x\n"
        "    client-certificate-data: Q0VSVA==\n"
        "- name: oidc-user\n"
        "  user:\n"
        "    auth-provider:\n"
        "      name: oidc\n"
        "    client-certificate-data: T0lEQw==\n"
        "# a comment\n"
        "clusters: []\n"
    )
    assert x509_scan.kubeconfig_fields(text) == [
        ("exec-user", "client-certificate-data", "Q0VSVA=="),
        ("oidc-user", "client-certificate-data", "T0lEQw=="),
    ]


def test_scan_reports_every_kubeconfig_entry_without_keys(tmp_path, multi_config, leaf):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(multi_config))

    result = x509_scan.scan(str(tmp_path), [str(path)])

    entries = {(e["kubeconfig_entry"], e["kubeconfig_field"]): e for e in result["collected"]}
    assert set(entries) == {
        ("prod", "certificate-authority-data"),
        ("lab", "certificate-authority-data"),
        ("admin", "client-certificate-data"),
        ("ops", "client-certificate-data"),
    }
    assert len(entries["lab", "certificate-authority-data"]["der"]) == 2
    assert decoded(entries["admin", "client-certificate-data"]) == [der(leaf.cert)]
    assert {e["source"] for e in result["collected"]} == {"kubeconfig"}
    assert {e["path"] for e in result["collected"]} == {str(path)}
    assert result["errors"] == []
    shipped = json.dumps(result)
    for user in multi_config["users"]:
        if "client-key-data" in user["user"]:
            assert user["user"]["client-key-data"] not in shipped


def test_bad_kubeconfig_fields_are_errors_per_entry(tmp_path, leaf):
    path = tmp_path / "config"
    path.write_text(
        "clusters:\n- cluster:\n    certificate-authority-data: '%%%'\n  name: broken\n"
        "users:\n- name: swapped\n  user:\n"
        f"    client-certificate-data: {b64(tree.key_pem(leaf.key))}\n"
    )
    result = x509_scan.scan(str(tmp_path), [str(path)])
    assert result["collected"] == []
    assert result["errors"] == [
        {
            "path": f"{path} (cluster broken)",
            "msg": "certificate-authority-data is not valid base64",
        },
        {
            "path": f"{path} (user swapped)",
            "msg": "client-certificate-data: no certificate in this PEM file, "
            "found: EC PRIVATE KEY",
        },
    ]


def test_binary_kubeconfig_is_an_error(tmp_path):
    path = tmp_path / "config"
    path.write_bytes(b"\xff\xfe\x00")
    result = x509_scan.scan(str(tmp_path), [str(path)])
    assert result["errors"] == [
        {"path": str(path), "msg": "not a kubeconfig (neither JSON nor block YAML)"}
    ]


def test_whole_generated_server_tree(tmp_path):
    data_dir = tree.write_server_tree(tmp_path, ISSUED, ISSUED + timedelta(days=1))
    kubeconfig = tmp_path / "etc/rancher/k3s/k3s.yaml"

    result = x509_scan.scan(str(data_dir), [str(kubeconfig)])

    crt_files = sorted(
        str(p) for p in [*data_dir.glob("server/tls/**/*.crt"), *data_dir.glob("agent/*.crt")]
    )
    files = [e["path"] for e in result["collected"] if e["source"] == "file"]
    assert files == crt_files
    assert not any("tls-" in path for path in files)
    assert [e["source"] for e in result["collected"]].count("dynamic") == 1
    assert [e["source"] for e in result["collected"]].count("kubeconfig") == 2
    assert result["errors"] == []
