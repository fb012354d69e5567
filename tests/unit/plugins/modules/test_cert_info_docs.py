"""ansible-doc remedy.k3s.cert_info says what the code does: options and every return key."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from ansible_collections.remedy.k3s.plugins.module_utils import x509_scan, x509_status

ROOT = Path(__file__).resolve().parents[4]
MODULE = ROOT / "plugins" / "modules" / "cert_info.py"
ANSIBLE_DOC = Path(sys.executable).parent / "ansible-doc"
_spec = importlib.util.spec_from_file_location("k3s_cert_tree", ROOT / "bench" / "k3s_cert_tree.py")
tree = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tree)


def doc_blocks() -> dict[str, object]:
    tree = ast.parse(MODULE.read_text())
    return {
        node.targets[0].id: yaml.safe_load(node.value.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and node.targets[0].id in {"DOCUMENTATION", "RETURN"}
    }


def test_documented_options_match_the_argument_spec():
    options = doc_blocks()["DOCUMENTATION"]["options"]
    spec = x509_scan.argument_spec()
    assert set(options) == set(spec)
    for name, entry in spec.items():
        assert options[name]["type"] == entry["type"], name
        assert options[name].get("default") == entry.get("default"), name
        assert options[name].get("elements") == entry.get("elements"), name


def test_every_return_key_is_documented_with_a_sample(tmp_path):
    data_dir = tmp_path / "server" / "tls"
    data_dir.mkdir(parents=True)
    (data_dir / "bad.crt").write_text("garbage")
    returned = doc_blocks()["RETURN"]
    scanned = x509_scan.scan(str(tmp_path), [])
    report = x509_status.build_report(
        scanned["collected"], scanned["errors"], datetime.now(UTC), 90
    )
    facts = x509_status.describe_certificates([_any_der()], datetime.now(UTC), 90)
    produced = {
        "certificates": {"path", "source", "kubeconfig_entry", "kubeconfig_field", *facts},
        "summary": set(report["summary"]),
        "errors": set(report["errors"][0]),
    }
    assert set(returned) == set(produced)
    for key, fields in produced.items():
        assert set(returned[key]["contains"]) == fields, key
        for name, field in returned[key]["contains"].items():
            assert {"description", "returned", "type", "sample"} <= set(field), f"{key}.{name}"


def _any_der() -> bytes:
    ca = tree.make_certificate(tree._name("ca"), datetime(2026, 1, 1, tzinfo=UTC), 10, is_ca=True)
    return ca.cert.public_bytes(tree.serialization.Encoding.DER)


@pytest.mark.skipif(not ANSIBLE_DOC.exists(), reason="ansible-doc is not next to this Python")
def test_ansible_doc_renders(tmp_path):
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".cache" / "collections")}
    proc = subprocess.run(
        [str(ANSIBLE_DOC), "--json", "remedy.k3s.cert_info"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)["remedy.k3s.cert_info"]
    assert doc["doc"]["attributes"]["check_mode"]["support"] == "full"
    assert "certificates" in doc["return"]
