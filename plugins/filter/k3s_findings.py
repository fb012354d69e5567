# Copyright (c) 2026, remedy.k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters for the diagnose role: findings, their summary, the Markdown report, API outcomes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.remedy.k3s.plugins.module_utils import k3s_findings


def _plain(value: Any) -> Any:  # noqa: ANN401 -- any template value, returned plain
    """Ansible's lazy containers and tagged strings as plain dicts, lists and str."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def findings(nodes: list[Any], api: dict[str, Any], cfg: dict[str, Any]) -> list[dict[str, Any]]:
    return k3s_findings.build_findings(_plain(nodes), _plain(api), _plain(cfg))


def summary(items: list[Any], fail_on: str) -> dict[str, Any]:
    return k3s_findings.summary(_plain(items), str(fail_on))


def markdown(report: dict[str, Any]) -> str:
    return k3s_findings.markdown(_plain(report))


def api_outcome(result: dict[str, Any]) -> str:
    return k3s_findings.api_outcome(_plain(result))


def api_message(result: dict[str, Any]) -> str:
    return k3s_findings.api_message(_plain(result))


def nodes(items: list[Any]) -> list[dict[str, Any]]:
    return [k3s_findings.node_summary(node) for node in _plain(items)]


def event_reasons(events: list[Any]) -> dict[str, int]:
    return k3s_findings.event_reasons(_plain(events))


def lines(items: list[Any]) -> list[str]:
    return k3s_findings.summary_lines(_plain(items))


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "k3s_findings": findings,
            "k3s_findings_summary": summary,
            "k3s_findings_markdown": markdown,
            "k3s_findings_api_outcome": api_outcome,
            "k3s_findings_api_message": api_message,
            "k3s_findings_nodes": nodes,
            "k3s_findings_lines": lines,
            "k3s_findings_event_reasons": event_reasons,
        }
