"""The runbook report: stage outcomes, parallel waits, before/after findings, Markdown."""

from __future__ import annotations

from ansible_collections.remedy.k3s.plugins.module_utils.runbook_report import (
    Stage,
    TaskRecord,
    build_report,
    is_wait,
    markdown,
    stage_summary,
)

FINDING = {
    "id": "disk-full",
    "severity": "critical",
    "title": "/var/log is full",
    "nodes": ["agent1"],
    "remedy": {"action": "Free space first."},
}


def record(
    task: str, host: str, status: str, seconds: float = 1.0, waiting: bool = False
) -> TaskRecord:
    return TaskRecord(task, host, task, "ansible.builtin.command", status, seconds, waiting)


def test_waits_are_recognised() -> None:
    assert is_wait("ansible.builtin.uri", {}, has_until=True)
    assert is_wait("kubernetes.core.k8s_info", {"wait": True}, has_until=False)
    assert not is_wait("kubernetes.core.k8s_info", {}, has_until=False)
    assert is_wait("ansible.builtin.systemd_service", {}, has_until=False)
    assert not is_wait("ansible.builtin.copy", {}, has_until=False)


def test_parallel_waits_count_once_per_task() -> None:
    stage = Stage("agents", ["agents"], started=0.0, ended=40.0)
    stage.tasks = [
        record("wait ready", "agent1", "ok", 30.0, waiting=True),
        record("wait ready", "agent2", "ok", 25.0, waiting=True),
        record("restart", "agent1", "changed", 5.0),
    ]
    summary = stage_summary(stage)
    assert summary["waiting_seconds"] == 30.0
    assert summary["seconds"] == 40.0
    assert summary["outcome"] == "changed"
    assert summary["changed"] == {"agent1": ["restart"]}


def test_stage_outcomes() -> None:
    skipped = Stage("clock", [], 0.0, 1.0, [record("step", "server", "skipped")])
    idle = Stage("disk", [], 0.0, 1.0, [record("prune", "server", "ok")])
    broken = Stage("certs", [], 0.0, 1.0, [record("rotate", "server", "failed")])
    assert stage_summary(skipped)["outcome"] == "skipped"
    assert stage_summary(idle)["outcome"] == "nothing to do"
    assert stage_summary(broken)["outcome"] == "failed"


def test_a_rescued_failure_is_listed_but_does_not_fail_the_stage() -> None:
    stage = Stage(
        "disk",
        [],
        0.0,
        1.0,
        [record("prune", "agent1", "rescued"), record("vacuum", "agent1", "changed")],
    )
    summary = stage_summary(stage)
    assert summary["outcome"] == "changed"
    assert summary["failed"] == {}
    assert summary["rescued"] == {"agent1": ["prune"]}


def test_report_is_healthy_only_when_the_final_diagnose_found_nothing() -> None:
    stages = [Stage("disk", ["disk"], 0.0, 10.0, [record("prune", "agent1", "changed", 2.0)])]
    fixed = build_report(
        stages, before={"findings": [FINDING]}, after={"findings": []},
        started=0.0, ended=12.0, check_mode=False,
    )  # fmt: skip
    assert fixed["healthy"] is True
    assert fixed["found"] == [FINDING]
    assert fixed["overhead_seconds"] == 12.0
    still = build_report(
        stages, before={"findings": [FINDING]}, after={"findings": [FINDING]},
        started=0.0, ended=12.0, check_mode=False,
    )  # fmt: skip
    assert still["healthy"] is False
    unknown = build_report(stages, before=None, after=None, started=0, ended=1, check_mode=True)
    assert unknown["healthy"] is False


def test_markdown_names_findings_stages_and_what_is_left() -> None:
    stages = [Stage("Free disk", ["disk"], 0.0, 10.0, [record("prune", "agent1", "changed")])]
    report = build_report(
        stages, before={"findings": [FINDING]}, after={"findings": [FINDING]},
        started=0.0, ended=12.0, check_mode=True,
    )  # fmt: skip
    text = markdown(report, "2026-11-30 15:00 UTC")
    assert "check mode: nothing was changed" in text
    assert "**NOT healthy**" in text
    assert "| Free disk | changed | 10.0 | agent1: prune |" in text
    assert text.count("/var/log is full (agent1). Free space first.") == 2


def test_findings_left_to_other_playbooks_do_not_make_it_unhealthy() -> None:
    registry = {**FINDING, "id": "registry_images_missing", "category": "registry"}
    report = build_report(
        [], before={"findings": [registry]}, after={"findings": [registry], "blocking": []},
        started=0.0, ended=1.0, check_mode=False,
    )  # fmt: skip
    assert report["healthy"] is True
    assert report["remaining"] == [registry]
