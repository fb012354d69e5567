# Copyright: remedy.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the recovery runbook's report (JSON and Markdown) when the run ends."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ansible import constants as C
from ansible import context
from ansible.playbook.block import Block
from ansible.plugins.callback import CallbackBase

from ansible_collections.remedy.k3s.plugins.module_utils.runbook_report import (
    Stage,
    TaskRecord,
    build_report,
    is_wait,
    markdown,
)

if TYPE_CHECKING:
    from ansible.executor.stats import AggregateStats
    from ansible.executor.task_result import TaskResult
    from ansible.playbook.play import Play
    from ansible.playbook.task import Task

DOCUMENTATION = r"""
name: runbook_report
type: aggregate
short_description: Report of a remedy.k3s runbook run (stages, changes, time, what is left)
description:
  - Active from the first play that sets the play variable C(remedy_runbook) (recover.yml's
    first play does) to the end of the run, so the plays of imported playbooks are stages too.
    Playbooks that never set it are not affected.
  - Records each play as a stage (its name, tags, wall time, which tasks changed or failed on
    which host), the time spent waiting for the cluster (retried probes, kubernetes.core waits,
    unit restarts) against Ansible's own overhead, and the diagnose findings before and after.
  - At the end writes C(<reports dir>/<runbook>-<UTC timestamp>.json) and C(.md), copies them to
    C(<runbook>-latest.json) / C(.md), and prints the Markdown summary. The reports dir is
    C($REMEDY_REPORTS_DIR), else C(reports/) next to the ansible.cfg in use, else C(./reports).
requirements:
  - enable it in ansible.cfg (C(callbacks_enabled = remedy.k3s.runbook_report)), as this
    project's ansible.cfg does.
author: remedy.k3s maintainers
"""

FINDINGS_FACT = "diagnose_findings"
# What the runbook itself counts as unhealthy at the end (recover.yml sets it).
BLOCKING_FACT = "recover_blocking_findings"


class CallbackModule(CallbackBase):
    """Collects stages and findings of plays that set ``remedy_runbook``."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "remedy.k3s.runbook_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._runbook: str | None = None
        self._stages: list[Stage] = []
        self._task_started: dict[str, float] = {}
        self._findings: list[dict[str, Any]] = []
        self._started = time.time()

    # --- plays and tasks ----------------------------------------------------------------
    def v2_playbook_on_play_start(self, play: Play) -> None:
        self._close_stage()
        runbook = (play.vars or {}).get("remedy_runbook")
        if runbook:
            self._runbook = str(runbook)
        if not self._runbook:
            return
        self._stages.append(Stage(play.get_name(), list(play.tags or []), time.time()))

    def v2_playbook_on_task_start(self, task: Task, is_conditional: bool) -> None:
        self._task_started[task._uuid] = time.time()

    def v2_playbook_on_handler_task_start(self, task: Task) -> None:
        self.v2_playbook_on_task_start(task, False)

    # --- results ------------------------------------------------------------------------
    def v2_runner_on_ok(self, result: TaskResult) -> None:
        status = "changed" if result._result.get("changed") else "ok"
        self._record(result, status)
        facts = result._result.get("ansible_facts") or {}
        if isinstance(facts.get(FINDINGS_FACT), list):
            self._findings.append({"findings": facts[FINDINGS_FACT]})
        if isinstance(facts.get(BLOCKING_FACT), list) and self._findings:
            self._findings[-1]["blocking"] = facts[BLOCKING_FACT]

    def v2_runner_on_failed(self, result: TaskResult, ignore_errors: bool = False) -> None:
        handled = ignore_errors or _rescued(result._task)
        self._record(result, "failed" if not handled else "ok" if ignore_errors else "rescued")

    def v2_runner_on_skipped(self, result: TaskResult) -> None:
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result: TaskResult) -> None:
        self._record(result, "unreachable")

    def _record(self, result: TaskResult, status: str) -> None:
        if not self._stages or self._stages[-1].ended:
            return
        task = result._task
        started = self._task_started.get(task._uuid, time.time())
        args = task.args or {}
        self._stages[-1].tasks.append(
            TaskRecord(
                task_id=task._uuid,
                host=result._host.get_name(),
                task=task.get_name(),
                action=str(getattr(task, "resolved_action", None) or task.action),
                status=status,
                seconds=time.time() - started,
                waiting=is_wait(
                    str(getattr(task, "resolved_action", None) or task.action),
                    args if isinstance(args, dict) else {},
                    bool(getattr(task, "until", None)),
                ),
                msg=str(result._result.get("msg", ""))[:500],
            )
        )

    def _close_stage(self) -> None:
        if self._stages and not self._stages[-1].ended:
            self._stages[-1].ended = time.time()

    # --- the end ------------------------------------------------------------------------
    def v2_playbook_on_stats(self, stats: AggregateStats) -> None:
        self._close_stage()
        if not self._runbook:
            return
        ended = time.time()
        report = build_report(
            self._stages,
            before=self._findings[0] if self._findings else None,
            after=self._findings[-1] if len(self._findings) > 1 else None,
            started=self._started,
            ended=ended,
            check_mode=bool(context.CLIARGS.get("check")),
        )
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ended))
        text = markdown(report, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ended)))
        out = _reports_dir()
        self._write(out, f"{self._runbook}-{stamp}", report, text)
        self._write(out, f"{self._runbook}-latest", report, text)
        self._display.banner("RUNBOOK REPORT")
        self._display.display(text)
        self._display.display(f"Report: {out / (self._runbook + '-' + stamp)}.md and .json")

    @staticmethod
    def _write(directory: Path, stem: str, report: dict[str, Any], text: str) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        (directory / f"{stem}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
        (directory / f"{stem}.md").write_text(text)


def _rescued(task: Task) -> bool:
    """Whether a failure of ``task`` is handled by the rescue of a block around it."""
    node: Any = task
    parent = getattr(node, "_parent", None)
    while parent is not None:
        if isinstance(parent, Block) and parent.rescue:
            uuids = {getattr(item, "_uuid", None) for item in parent.block}
            if node._uuid in uuids:
                return True
        node, parent = parent, getattr(parent, "_parent", None)
    return False


def _reports_dir() -> Path:
    if os.environ.get("REMEDY_REPORTS_DIR"):
        return Path(os.environ["REMEDY_REPORTS_DIR"])
    if C.CONFIG_FILE:
        return Path(C.CONFIG_FILE).resolve().parent / "reports"
    return Path.cwd() / "reports"
