"""The lab command's host-side pieces, without podman: scenarios, files it writes, images.

Real tools check the outputs: ansible-inventory reads the inventory, cryptography verifies
the minted certificates, skopeo reads the OCI layout.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from labctl import breakers, inventory, kubeconfig, registry
from labctl.innode import registry_runner
from labctl.layout import LabState, check_prefix, paths_for


def test_incident_expands_in_the_articles_order_without_the_skipped_ones():
    assert breakers.expand(["incident"], []) == list(breakers.INCIDENT)
    assert breakers.expand(["incident"], ["registry-lost"]) == [
        s for s in breakers.INCIDENT if s != "registry-lost"
    ]
    assert breakers.expand(["log-storm", "certs-expired", "log-storm"], []) == [
        "log-storm",
        "certs-expired",
    ]


def test_api_side_breakers_run_while_the_api_still_works():
    names = breakers.expand(["incident"], [])
    order = breakers.execution_order(names)
    assert order[:2] == ["server-scheduling", "registry-lost"]
    assert sorted(order) == sorted(names)
    assert breakers.execution_order(["log-storm", "certs-expired"]) == [
        "log-storm",
        "certs-expired",
    ]


def test_unknown_scenario_names_the_valid_ones():
    with pytest.raises(ValueError, match="certs-expired"):
        breakers.expand(["certs-expire"], [])


def test_prefix_must_be_a_safe_container_name_prefix():
    assert check_prefix("ci-") == "ci-"
    with pytest.raises(ValueError, match="--name-prefix"):
        check_prefix("CI_")


def test_prefixed_lab_keeps_its_files_out_of_the_users_lab(tmp_path):
    plain, prefixed = paths_for(tmp_path, ""), paths_for(tmp_path, "t-")
    assert plain.inventory == tmp_path / "inventory" / "lab" / "hosts.yml"
    assert plain.kubeconfig == tmp_path / ".cache" / "lab" / "kubeconfig"
    assert not {prefixed.inventory, prefixed.kubeconfig, prefixed.state_file} & {
        plain.inventory,
        plain.kubeconfig,
        plain.state_file,
    }


ANSIBLE_INVENTORY = Path(sys.executable).parent / "ansible-inventory"


@pytest.mark.skipif(not ANSIBLE_INVENTORY.exists(), reason="needs ansible in the venv")
def test_inventory_has_k3s_ansible_groups_over_podman(tmp_path):
    state = LabState(prefix="t-", agents=2, api_port=40123)
    paths = paths_for(tmp_path, "t-")
    inventory.write(state, paths)
    out = subprocess.run(
        [str(ANSIBLE_INVENTORY), "-i", str(paths.inventory), "--list"],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout)
    assert data["k3s_cluster"]["children"] == ["server", "agent"]
    assert data["server"]["hosts"] == ["server"]
    assert data["agent"]["hosts"] == ["agent1", "agent2"]
    agent1 = data["_meta"]["hostvars"]["agent1"]
    assert agent1["ansible_host"] == "t-agent1"
    assert agent1["ansible_connection"] == "containers.podman.podman"
    assert agent1["ansible_python_interpreter"] == "/usr/bin/python3"
    assert agent1["k3s_api_endpoint"] == "https://127.0.0.1:40123"


def _ca() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "k3s-client-ca@1700000000")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def test_stale_admin_cert_is_signed_by_the_client_ca_and_expired_yesterday():
    ca_pem, ca_key = _ca()
    now = dt.datetime.now(dt.UTC)
    cert_pem, key_pem = kubeconfig.issue_client_cert(
        ca_pem,
        ca_key,
        common_name="system:admin",
        groups=["system:masters"],
        not_before=now - dt.timedelta(days=366),
        not_after=now - dt.timedelta(days=1),
    )
    leaf, *chain = x509.load_pem_x509_certificates(cert_pem)
    ca = x509.load_pem_x509_certificate(ca_pem)
    assert chain == [ca]
    leaf.verify_directly_issued_by(ca)
    assert leaf.not_valid_after_utc < now
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "system:masters"
    )
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert key.public_key() == leaf.public_key()


def test_kubeconfig_round_trips_and_moves_to_the_published_port():
    ca_pem, _ = _ca()
    creds = kubeconfig.Credentials("https://127.0.0.1:6443", ca_pem, b"CERT", b"KEY")
    moved = kubeconfig.parse(
        kubeconfig.with_server(kubeconfig.render(creds), "https://127.0.0.1:41000")
    )
    assert moved == kubeconfig.Credentials("https://127.0.0.1:41000", ca_pem, b"CERT", b"KEY")


def test_registry_is_seeded_with_the_images_the_apps_pull():
    def deployment(image: str) -> dict:
        return {"spec": {"template": {"spec": {"containers": [{"image": image}]}}}}

    deployments = [
        deployment("registry.lab:5000/blog:1.4.2"),
        deployment("registry.lab:5000/blog:1.4.2"),
        deployment("rancher/mirrored-coredns-coredns:1.12.0"),
        deployment("registry.lab:5000/team/apiblaze"),
    ]
    assert registry.images_to_seed(deployments) == [("blog", "1.4.2"), ("team/apiblaze", "latest")]


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="needs skopeo")
def test_seed_image_layout_is_a_valid_oci_image(tmp_path):
    layout = tmp_path / "oci"
    registry.build_oci_layout(layout, "lab/blog")
    out = subprocess.run(
        ["skopeo", "--insecure-policy", "inspect", f"oci:{layout}:{registry.SEED_TAG}"],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(out.stdout)
    assert info["Labels"] == {"remedy.lab/app": "lab/blog"}
    assert len(info["Layers"]) == 1
    copied = tmp_path / "dir"
    subprocess.run(
        ["skopeo", "--insecure-policy", "copy", "--quiet", f"oci:{layout}:1.0", f"dir:{copied}"],
        check=True,
    )
    assert (copied / "manifest.json").is_file()


def test_lab_command_runs_and_lists_every_scenario():
    lab = Path(__file__).resolve().parents[2] / "lab" / "lab"
    out = subprocess.run(
        [sys.executable, str(lab), "break", "--help"], capture_output=True, text=True, check=True
    )
    for scenario in ("incident", *breakers.INCIDENT):
        assert scenario in "".join(out.stdout.split())


def _registry_pod(uid: str, created: str, **extra: object) -> dict:
    pod = {
        "metadata": {"uid": uid, "name": f"registry-{uid}", "namespace": "default"},
        "spec": {"containers": [{"name": "registry", "image": "registry:2"}]},
        "status": {"phase": "Running"},
    }
    pod["metadata"]["creationTimestamp"] = created
    pod.update(extra)
    return pod


def test_registry_without_a_volume_lives_in_the_pods_own_layer():
    old = _registry_pod("a", "2026-01-01T00:00:00Z")
    new = _registry_pod("b", "2026-01-02T00:00:00Z")
    gone = _registry_pod("c", "2026-01-03T00:00:00Z")
    gone["metadata"]["deletionTimestamp"] = "2026-01-03T00:00:01Z"
    other = {"metadata": {"uid": "d", "name": "blog"}, "spec": {"containers": [{"image": "blog"}]}}
    want = registry_runner.desired([old, new, gone, other])
    assert want is not None
    assert (want.uid, want.ephemeral) == ("b", True)
    assert want.storage == registry_runner.PODS_DIR / "b" / "rootfs" / "var" / "lib" / "registry"
    assert registry_runner.desired([gone, other]) is None


def test_registry_with_a_claim_keeps_its_data_across_pods():
    spec = {
        "containers": [
            {
                "image": "docker.io/library/registry:2.8",
                "volumeMounts": [{"name": "data", "mountPath": "/var/lib/registry"}],
            }
        ],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "registry-data"}}],
    }
    first = registry_runner.desired([_registry_pod("a", "1", spec=spec)])
    second = registry_runner.desired([_registry_pod("b", "2", spec=spec)])
    assert first is not None and second is not None
    assert not first.ephemeral
    assert first.storage == second.storage == registry_runner.STORAGE_DIR / "default_registry-data"
