"""remedy.k3s.cert_info through ansible-playbook (connection local) on a generated tree."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
_spec = importlib.util.spec_from_file_location("k3s_cert_tree", ROOT / "bench" / "k3s_cert_tree.py")
tree = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tree)

PLAYBOOK = """
- name: Scan the generated tree
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  {environment}
  tasks:
    - name: Read every certificate
      remedy.k3s.cert_info:
        data_dir: {data_dir}
        kubeconfigs: [{kubeconfig}, /nonexistent/kubeconfig]
        at: "{at}"
    {extra_tasks}
"""

pytestmark = pytest.mark.skipif(
    not ANSIBLE_PLAYBOOK.exists(), reason="ansible-playbook is not next to this Python"
)


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Path:
    """An incident server: leaves issued 400 days before AT, so they have expired."""
    root = tmp_path_factory.mktemp("node")
    tree.write_server_tree(root, AT - timedelta(days=3000), AT - timedelta(days=400))
    (root / "var/lib/rancher/k3s/server/tls/swapped.crt").write_bytes(
        (root / "var/lib/rancher/k3s/server/tls/client-admin.key").read_bytes()
    )
    return root


AT = datetime(2027, 6, 1, tzinfo=UTC)


def write_playbook(directory: Path, node: Path, at: str, environment: str = "", extra: str = ""):
    path = directory / "playbook.yml"
    path.write_text(
        PLAYBOOK.format(
            data_dir=node / "var/lib/rancher/k3s",
            kubeconfig=node / "etc/rancher/k3s/k3s.yaml",
            at=at,
            environment=environment,
            extra_tasks=extra,
        )
    )
    return path


def ansible_env(tmp_path: Path) -> dict[str, str]:
    # Our own config: the checkout's ansible.cfg enables callbacks that print around the JSON.
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n")
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(config),
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".cache" / "collections"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_NOCOLOR": "1",
    }


def task_results(stdout: str) -> list[dict]:
    tasks = json.loads(stdout)["plays"][0]["tasks"]
    return [task["hosts"]["localhost"] for task in tasks]


def run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_playbook_reports_the_tree_and_changes_nothing(tmp_path, node, check_mode):
    before = {p: p.stat().st_mtime_ns for p in node.rglob("*")}
    playbook = write_playbook(tmp_path, node, at="2027-06-01T02:00:00+02:00")
    cmd = [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook)]

    proc = run([*cmd, "--check"] if check_mode else cmd, ansible_env(tmp_path))

    assert proc.returncode == 0, proc.stdout + proc.stderr
    [result] = task_results(proc.stdout)
    assert result["changed"] is False
    assert "failed" not in result
    summary = result["summary"]
    assert summary["total"] == 30
    assert summary["ok"] == 10  # the CAs
    assert summary["expired"] == 20
    assert summary["earliest_not_after"] == result["certificates"][0]["not_after"]
    assert result["certificates"][0]["days_left"] == pytest.approx(-35.0)
    assert {c["source"] for c in result["certificates"]} == {"file", "dynamic", "kubeconfig"}
    assert result["errors"] == [
        {
            "path": str(node / "var/lib/rancher/k3s/server/tls/swapped.crt"),
            "msg": "no certificate in this PEM file, found: EC PRIVATE KEY",
        }
    ]
    assert "PRIVATE KEY-----" not in proc.stdout
    key_lines = (node / "var/lib/rancher/k3s/server/tls/client-admin.key").read_text()
    assert not any(line in proc.stdout for line in key_lines.splitlines()[1:-1])
    assert {p: p.stat().st_mtime_ns for p in node.rglob("*")} == before


def test_at_without_offset_fails_with_a_hint(tmp_path, node):
    playbook = write_playbook(tmp_path, node, at="2027-06-01T00:00:00")
    proc = run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook)], ansible_env(tmp_path))
    assert proc.returncode != 0
    [result] = task_results(proc.stdout)
    assert result["failed"] is True
    assert "no UTC offset" in result["msg"]


FULL_DISK = """
set -e
mount --bind /tmp "$REAL_TMP"
mount -t tmpfs -o size=512k cert-info-full-tmp /tmp
mount -t tmpfs -o size=64k cert-info-full-vartmp /var/tmp
for d in $KEEP_DIRS; do mkdir -p "$d"; mount --bind "$REAL_TMP/${d#/tmp/}" "$d"; done
mkdir /tmp/work
cp "$PLAYBOOK" /tmp/work/
dd if=/dev/zero of=/tmp/.fill bs=4k 2>/dev/null || true
dd if=/dev/zero of=/var/tmp/.fill bs=4k 2>/dev/null || true
cd /tmp/work
exec "$@"
"""


def _under_tmp(path: Path) -> Path | None:
    parts = path.resolve().parts
    return Path(*parts[:3]) if parts[:2] == ("/", "tmp") and len(parts) > 2 else None


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root")
@pytest.mark.parametrize("pipelining", ["1", "0"])
def test_full_disk_node(tmp_path, node, pipelining):
    """/tmp, /var/tmp and the cwd 100% full: ordinary modules fail, cert_info still reports."""
    controller_tmp = tmp_path / "controller-tmp"
    controller_tmp.mkdir()
    playbook = write_playbook(
        tmp_path,
        node,
        at="2027-06-01T00:00:00Z",
        environment="environment:\n    TMPDIR: /tmp",
        extra="- name: Show that an ordinary module cannot run here\n"
        "      ansible.builtin.command: 'true'\n"
        "      changed_when: false\n"
        "      ignore_errors: true",
    )
    keep = {_under_tmp(p) for p in (Path(sys.prefix), ROOT, tmp_path, node)} - {None}
    real_tmp = Path(f"/mnt/cert-info-real-tmp-{os.getpid()}")
    real_tmp.mkdir(parents=True, exist_ok=True)
    env = {
        **ansible_env(tmp_path),
        "TMPDIR": str(controller_tmp),
        "ANSIBLE_PIPELINING": pipelining,
        "ANSIBLE_REMOTE_TMP": "/tmp/work/.ansible-remote",
        "REAL_TMP": str(real_tmp),
        "KEEP_DIRS": " ".join(str(p) for p in sorted(keep)),
        "PLAYBOOK": str(playbook),
    }
    script = tmp_path / "full-disk.sh"
    script.write_text(FULL_DISK)
    try:
        proc = run(
            ["unshare", "-m", "sh", str(script), str(ANSIBLE_PLAYBOOK), "-i", "localhost,",
             "/tmp/work/playbook.yml"],
            env,
        )  # fmt: skip
    finally:
        real_tmp.rmdir()
    if "mount:" in proc.stderr or "unshare:" in proc.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")

    scan, control = task_results(proc.stdout)
    assert control["failed"] is True, "the disk was not full: the control module ran"
    assert "No space left on device" in json.dumps(control) or "No usable temporary" in json.dumps(
        control
    )
    assert "failed" not in scan, scan
    assert scan["summary"]["total"] == 30
    assert any("disk is full" in warning for warning in scan["warnings"])
