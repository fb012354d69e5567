# Copyright: remedy.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recovery runbook's report: stages, what each did where, time spent, what is left.

Pure functions over plain data, fed by the ``remedy.k3s.runbook_report`` callback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1

# Actions whose time is the cluster's, not Ansible's: waits and restarts.
WAIT_ACTIONS = frozenset(
    {
        "ansible.builtin.wait_for",
        "ansible.builtin.pause",
        "ansible.builtin.systemd_service",
        "ansible.builtin.systemd",
        "ansible.builtin.service",
        "kubernetes.core.k8s_scale",
    }
)


@dataclass
class TaskRecord:
    """One task's outcome on one host."""

    task_id: str
    host: str
    task: str
    action: str
    status: str  # ok | changed | failed | rescued | skipped | unreachable
    seconds: float
    waiting: bool
    msg: str = ""


@dataclass
class Stage:
    """One play of the runbook."""

    name: str
    tags: list[str]
    started: float
    ended: float = 0.0
    tasks: list[TaskRecord] = field(default_factory=list)


def is_wait(action: str, args: Mapping[str, Any], has_until: bool) -> bool:
    """Whether a task's time is spent waiting for the cluster rather than in Ansible.

    Retried probes (``until``), waits of the kubernetes.core modules, restarts of units and
    explicit waits count; everything else is Ansible's own work.
    """
    if has_until or action in WAIT_ACTIONS:
        return True
    return action.startswith("kubernetes.core.") and bool(args.get("wait"))


def stage_summary(stage: Stage) -> dict[str, Any]:
    """What a stage did, host by host, and where its time went."""
    changed: dict[str, list[str]] = {}
    failed: dict[str, list[str]] = {}
    rescued: dict[str, list[str]] = {}
    for record in stage.tasks:
        if record.status == "changed":
            changed.setdefault(record.host, [])
            if record.task not in changed[record.host]:
                changed[record.host].append(record.task)
        elif record.status in ("failed", "unreachable"):
            failed.setdefault(record.host, []).append(_what(record))
        elif record.status == "rescued":
            # Failed inside a block whose rescue handled it: the stage went on.
            rescued.setdefault(record.host, []).append(_what(record))
    ran = [r for r in stage.tasks if r.status != "skipped"]
    wall = max(stage.ended - stage.started, 0.0)
    # Hosts wait in parallel: a task's wait is its slowest host's, not their sum.
    per_task: dict[str, float] = {}
    for record in ran:
        if record.waiting:
            per_task[record.task_id] = max(per_task.get(record.task_id, 0.0), record.seconds)
    waiting = min(sum(per_task.values()), wall)
    return {
        "name": stage.name,
        "tags": stage.tags,
        "outcome": _outcome(ran, changed, failed),
        "seconds": round(wall, 1),
        "waiting_seconds": round(waiting, 1),
        "changed": changed,
        "failed": failed,
        "rescued": rescued,
    }


def _what(record: TaskRecord) -> str:
    return f"{record.task}: {record.msg}" if record.msg else record.task


def _outcome(ran: list[TaskRecord], changed: Mapping[str, Any], failed: Mapping[str, Any]) -> str:
    if failed:
        return "failed"
    if not ran:
        return "skipped"
    return "changed" if changed else "nothing to do"


def build_report(
    stages: Iterable[Stage],
    *,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    started: float,
    ended: float,
    check_mode: bool,
) -> dict[str, Any]:
    """The whole report: the JSON document written next to its Markdown rendering."""
    summaries = [stage_summary(s) for s in stages]
    wall = max(ended - started, 0.0)
    waiting = sum(s["waiting_seconds"] for s in summaries)
    remaining = list((after or {}).get("findings", []))
    # The runbook may leave some findings to other playbooks (the registry): only those
    # it names as blocking make the cluster unhealthy; without that list, every one does.
    blocking = list((after or {}).get("blocking", remaining))
    return {
        "schema_version": SCHEMA_VERSION,
        "check_mode": check_mode,
        "started": started,
        "ended": ended,
        "seconds": round(wall, 1),
        "waiting_seconds": round(waiting, 1),
        "overhead_seconds": round(max(wall - waiting, 0.0), 1),
        "found": list((before or {}).get("findings", [])),
        "stages": summaries,
        "remaining": remaining,
        "blocking": blocking,
        "healthy": after is not None and not blocking,
    }


def markdown(report: Mapping[str, Any], when: str) -> str:
    """The report as an operator pastes it into an outage notice."""
    verdict = "healthy" if report["healthy"] else "NOT healthy"
    mode = " (check mode: nothing was changed)" if report["check_mode"] else ""
    lines = [
        f"# k3s recovery, {when}{mode}",
        "",
        f"Cluster at the end: **{verdict}**. Took {report['seconds']} s "
        f"({report['waiting_seconds']} s waiting for the cluster, "
        f"{report['overhead_seconds']} s Ansible).",
        "",
        "## Found",
        "",
        *_finding_lines(report["found"]),
        "",
        "## What each stage did",
        "",
        "| Stage | Outcome | Seconds | Changed |",
        "| --- | --- | --- | --- |",
    ]
    for stage in report["stages"]:
        did = "; ".join(f"{host}: {', '.join(tasks)}" for host, tasks in stage["changed"].items())
        lines.append(
            f"| {stage['name']} | {stage['outcome']} | {stage['seconds']} | {did or '-'} |"
        )
    failures = [
        (s["name"], h, m) for s in report["stages"] for h, ms in s["failed"].items() for m in ms
    ]
    if failures:
        lines += ["", "## Failures", ""]
        lines += [f"- {stage} on {host}: {msg}" for stage, host, msg in failures]
    handled = [
        (s["name"], h, m)
        for s in report["stages"]
        for h, ms in s.get("rescued", {}).items()
        for m in ms
    ]
    if handled:
        lines += ["", "## Handled along the way", ""]
        lines += [
            f"- {stage} on {host}: {msg} (handled by the stage)" for stage, host, msg in handled
        ]
    lines += ["", "## Still wrong", "", *_finding_lines(report["remaining"], empty="Nothing.")]
    return "\n".join(lines) + "\n"


def _finding_lines(findings: list[Mapping[str, Any]], empty: str = "No problems.") -> list[str]:
    if not findings:
        return [empty]
    out = []
    for item in findings:
        remedy = item.get("remedy") or {}
        todo = remedy.get("action") or ""
        nodes = ", ".join(item.get("nodes") or [])
        where = f" ({nodes})" if nodes else ""
        title = item.get("title", item.get("id"))
        out.append(f"- [{item.get('severity')}] {title}{where}. {todo}".rstrip())
    return out
