# Copyright (c) 2026, remedy.k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the stdlib-only collector on the node, parse its certificates on the controller."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.remedy.k3s.plugins.module_utils import x509_scan
from ansible_collections.remedy.k3s.plugins.module_utils.x509_status import (
    build_report,
    parse_moment,
)

MODULE_NAME = "remedy.k3s.cert_info"
SCAN_OPTIONS = ("data_dir", "kubeconfigs")
# What a node says when it cannot even unpack Ansible's module payload.
FULL_DISK_MARKERS = ("No space left on device", "No usable temporary directory")

_STDIN_RUNNER = """
if __name__ == "__main__":
    import json as _json
    import sys as _sys

    _args = _json.loads({args!r})
    _sys.stdout.write(_json.dumps(scan(_args["data_dir"], _args["kubeconfigs"])))
"""


def is_full_disk_failure(text: str) -> bool:
    return any(marker in text for marker in FULL_DISK_MARKERS)


def stdin_program(scan_args: dict[str, Any]) -> str:
    """The collector as one Python program to pipe to the node's interpreter."""
    source = Path(x509_scan.__file__).read_text(encoding="utf-8")
    return source + _STDIN_RUNNER.format(args=json.dumps(scan_args))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(
        self, tmp: str | None = None, task_vars: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=x509_scan.argument_spec())
        try:
            moment = parse_moment(args["at"], datetime.now(UTC))
        except ValueError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        if args["warn_days"] < 0:
            raise AnsibleActionFail(f"warn_days={args['warn_days']} must be 0 or more")

        scan_args = {name: args[name] for name in SCAN_OPTIONS}
        scanned = self._scan(scan_args, task_vars)
        if scanned.get("failed"):
            result.update(scanned)
            return result
        result.update(
            build_report(scanned["collected"], scanned["errors"], moment, args["warn_days"])
        )
        for passthrough in ("warnings", "deprecations"):
            if scanned.get(passthrough):
                result[passthrough] = scanned[passthrough]
        result["changed"] = False
        return result

    def _scan(self, scan_args: dict[str, Any], task_vars: dict[str, Any] | None) -> dict[str, Any]:
        """Run the module; on a node too full to unpack it, pipe the collector instead."""
        try:
            scanned = self._execute_module(
                module_name=MODULE_NAME, module_args=scan_args, task_vars=task_vars
            )
        except AnsibleError as exc:
            if not is_full_disk_failure(str(exc)):
                raise
            return self._scan_through_stdin(scan_args)
        failure_text = " ".join(
            str(scanned.get(key, "")) for key in ("msg", "module_stderr", "module_stdout")
        )
        if scanned.get("failed") and is_full_disk_failure(failure_text):
            return self._scan_through_stdin(scan_args)
        return scanned

    def _scan_through_stdin(self, scan_args: dict[str, Any]) -> dict[str, Any]:
        interpreter = (self._used_interpreter or "#!/usr/bin/python3").lstrip("#!").strip()
        Display().vvv(f"cert_info: node disk full, piping the collector to {interpreter}")
        res = self._low_level_execute_command(
            f"{interpreter} -", in_data=stdin_program(scan_args).encode("utf-8")
        )
        if res["rc"] != 0:
            return {
                "failed": True,
                "msg": "the node's disk is full and running the collector through "
                f"{interpreter} failed too (rc={res['rc']}); free some space (journalctl "
                "--vacuum-size=, /var/log) and retry",
                "module_stderr": res.get("stderr", ""),
            }
        scanned = json.loads(res["stdout"])
        scanned["warnings"] = [
            "the node's disk is full: Ansible could not unpack its module payload there, so "
            "the certificates were collected by a program piped to python3 instead"
        ]
        return scanned
