# Copyright (c) 2026, remedy.k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run ``remedy.k3s.diagnose_node`` and measure the node's clock against the controller's."""

from __future__ import annotations

import time
from typing import Any

from ansible.plugins.action import ActionBase

MODULE_NAME = "remedy.k3s.diagnose_node"


def clock_offset(node_time: float, sent: float, received: float) -> dict[str, float]:
    """The node's time minus the controller's at the round trip's middle, and half its length."""
    return {
        "offset": round(node_time - (sent + received) / 2, 3),
        "uncertainty": round((received - sent) / 2, 3),
    }


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(
        self, tmp: str | None = None, task_vars: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        sent = time.time()
        args.setdefault("now", sent)
        probed = self._execute_module(
            module_name=MODULE_NAME, module_args=args, task_vars=task_vars
        )
        received = time.time()
        result.update(probed)
        if not probed.get("failed") and "node_time" in probed:
            result["clock"] = clock_offset(float(probed["node_time"]), sent, received)
        result["changed"] = False
        return result
