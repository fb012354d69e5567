"""The runbook_report callback through ansible-playbook: stages, failures and rescues.

A failure that a block's rescue handles (directly, inside a nested block, or inside an
included task file) is reported as handled and does not make its stage "failed"; an
unhandled failure does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, project_env

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

PLAYBOOK = """
- name: Stage with rescued failures
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    remedy_runbook: cbtest
  tasks:
    - name: Outer block
      block:
        - name: Plain failure inside the block
          ansible.builtin.fail:
            msg: first try failed
      rescue:
        - name: Handle it
          ansible.builtin.debug:
            msg: handled

    - name: Nested and included
      block:
        - name: Inner block without its own rescue
          block:
            - name: Failure two blocks deep
              ansible.builtin.fail:
                msg: deep failure
        - name: Never reached
          ansible.builtin.debug:
            msg: skipped by the failure
      rescue:
        - name: Included failure inside a rescue-less include, within a rescued block
          block:
            - name: Include a failing file
              ansible.builtin.include_tasks: failing.yml
          rescue:
            - name: Handle the included failure
              ansible.builtin.debug:
                msg: handled too

- name: Stage that really fails
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    remedy_runbook: cbtest
  tasks:
    - name: Unhandled failure
      ansible.builtin.fail:
        msg: nobody rescues this
"""

pytestmark = pytest.mark.skipif(
    not ANSIBLE_PLAYBOOK.exists(), reason="ansible-playbook is not installed"
)


def test_rescued_failures_are_handled_and_unhandled_ones_fail_the_stage(tmp_path: Path) -> None:
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "failing.yml").write_text(
        "- name: Failure in an included file\n  ansible.builtin.fail:\n    msg: included failure\n"
    )
    reports = tmp_path / "reports"
    result = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(tmp_path / "play.yml")],
        cwd=ROOT,
        env=project_env(REMEDY_REPORTS_DIR=str(reports)),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 2, result.stdout[-3000:]
    report = json.loads((reports / "cbtest-latest.json").read_text())
    rescued_stage, failed_stage = report["stages"]

    assert rescued_stage["outcome"] != "failed"
    assert rescued_stage["failed"] == {}
    assert rescued_stage["rescued"]["localhost"] == [
        "Plain failure inside the block: first try failed",
        "Failure two blocks deep: deep failure",
        "Failure in an included file: included failure",
    ]
    assert failed_stage["outcome"] == "failed"
    assert failed_stage["failed"] == {"localhost": ["Unhandled failure: nobody rescues this"]}

    text = (reports / "cbtest-latest.md").read_text()
    assert "## Failures\n\n- Stage that really fails on localhost: Unhandled failure" in text
    assert "## Handled along the way" in text
