# Copyright (c) 2026, remedy.k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that edit k3s's config.yaml as text (comments and layout kept)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.remedy.k3s.plugins.module_utils import k3s_config


def set_list_flag(
    text: str, key: str, drop_prefixes: list[str], add: list[str], what: str = "config.yaml"
) -> str:
    """``text`` with list flag ``key`` holding its items minus ``drop_prefixes``, plus ``add``."""
    try:
        return k3s_config.edit_list_flag(
            str(text), str(key), [str(p) for p in drop_prefixes], [str(a) for a in add], str(what)
        )
    except k3s_config.ConfigEditError as exc:
        raise AnsibleFilterError(str(exc)) from None


def edit_problem(
    text: str, key: str, drop_prefixes: list[str], add: list[str], what: str = "config.yaml"
) -> str:
    """Why k3s_config_set_list_flag would refuse ``text`` (no file content in it), or ""."""
    return k3s_config.edit_problem(
        str(text), str(key), [str(p) for p in drop_prefixes], [str(a) for a in add], str(what)
    )


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "k3s_config_set_list_flag": set_list_flag,
            "k3s_config_edit_problem": edit_problem,
        }
