"""The kubelet_log_limits role through ansible-playbook (connection local) on a real file.

The role edits only kubelet-arg in k3s's config.yaml: the operator's comments and other
flags stay byte for byte, the old file is kept as a backup, the second run and check mode
change nothing, and a file it cannot edit safely fails with the reason and never the token.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, project_env

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
TOKEN = "K10c0ffee::server:remedy-test-token"
CONFIG = f"""\
# k3s agent configuration (hand-written)
server: https://192.0.2.10:6443
token: "{TOKEN}"   # join token

# tuning
kubelet-arg:
  - "max-pods=150"    # the blog needs them
  - "container-log-max-size=50Mi"
node-label:
  - tier=edge
"""

PLAYBOOK = """
- name: Bound container logs
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  roles:
    - role: remedy.k3s.kubelet_log_limits
      vars:
        kubelet_log_limits_config_file: %s
"""

pytestmark = [
    pytest.mark.skipif(not ANSIBLE_PLAYBOOK.exists(), reason="ansible-playbook is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the role writes the file as root:root"),
]


def play(tmp_path: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK % config)
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook), *args],
        cwd=ROOT,
        env=project_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def stats(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    recap = re.search(r"^localhost\s+:\s+(.*)$", result.stdout, re.MULTILINE)
    assert recap, result.stdout[-2000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", recap.group(1))}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "k3s" / "config.yaml"
    path.parent.mkdir()
    path.write_text(CONFIG)
    path.chmod(0o600)
    return path


def backups(config: Path) -> list[Path]:
    return [p for p in config.parent.iterdir() if p.name != config.name]


def test_only_kubelet_arg_changes_and_the_old_file_is_kept(tmp_path: Path, config: Path) -> None:
    assert stats(play(tmp_path, config))["changed"] == 1
    text = config.read_text()
    head, _, _ = CONFIG.partition("kubelet-arg:")
    assert text.startswith(head), "lines before kubelet-arg must stay byte for byte"
    assert text.endswith("node-label:\n  - tier=edge\n")
    data = yaml.safe_load(text)
    assert data["kubelet-arg"] == [
        "max-pods=150",
        "container-log-max-size=10Mi",
        "container-log-max-files=3",
    ]
    assert data["token"] == TOKEN
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    [backup] = backups(config)
    assert backup.read_text() == CONFIG


def test_second_run_and_check_mode_change_nothing(tmp_path: Path, config: Path) -> None:
    check = stats(play(tmp_path, config, "--check", "--diff"))
    assert check["changed"] == 1, "check mode reports the change it would make"
    assert config.read_text() == CONFIG
    assert backups(config) == []
    stats(play(tmp_path, config))
    after = config.read_text()
    again = play(tmp_path, config)
    assert stats(again)["changed"] == 0
    assert config.read_text() == after
    assert TOKEN not in again.stdout


def test_a_file_it_cannot_edit_fails_with_the_reason_and_no_token(
    tmp_path: Path, config: Path
) -> None:
    broken = CONFIG + "kubelet-arg: [twice]\n"
    config.write_text(broken)
    result = play(tmp_path, config)
    assert result.returncode != 0
    assert "sets kubelet-arg on 2 lines; keep one kubelet-arg list and rerun" in result.stdout
    assert TOKEN not in result.stdout + result.stderr
    assert config.read_text() == broken
    assert backups(config) == []
