"""The action plugin's full-disk route: the collector piped to a bare interpreter."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.remedy.k3s.plugins.action import cert_info
from ansible_collections.remedy.k3s.plugins.module_utils import x509_scan

ROOT = Path(__file__).resolve().parents[4]
BARE_PYTHON = shutil.which("python3", path="/usr/bin:/bin")


@pytest.mark.skipif(BARE_PYTHON is None, reason="needs a system python3 in /usr/bin or /bin")
def test_stdin_program_runs_on_an_isolated_stdlib_python(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "bench/k3s_cert_tree.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    args = {
        "data_dir": str(tmp_path / "var/lib/rancher/k3s"),
        "kubeconfigs": [str(tmp_path / "etc/rancher/k3s/k3s.yaml")],
    }

    # -I: no site-packages, no PYTHONPATH, no cwd: only the standard library is there.
    proc = subprocess.run(
        [BARE_PYTHON, "-I", "-"],
        input=cert_info.stdin_program(args).encode(),
        capture_output=True,
        check=True,
        cwd=tmp_path,
    )

    assert json.loads(proc.stdout) == x509_scan.scan(args["data_dir"], args["kubeconfigs"])
    assert proc.stderr == b""


@pytest.mark.parametrize(
    ("text", "full"),
    [
        ("OSError: [Errno 28] No space left on device", True),
        ("FileNotFoundError: [Errno 2] No usable temporary directory found in ['/tmp']", True),
        ("Permission denied (publickey)", False),
        ("", False),
    ],
)
def test_full_disk_failures_are_recognised(text, full):
    assert cert_info.is_full_disk_failure(text) is full
