# Copyright (c) 2026, remedy.k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Edit one list key of k3s's config.yaml in its text, keeping everything else as it was.

Re-dumping the parsed YAML would lose the operator's comments, quoting and key order.
Here only the lines of the one top-level key are rewritten (or appended when the key is
absent); every other line stays byte for byte. The result is parsed again and must equal
the old data with the new list: if the file's layout is one this editor does not
understand (anchors, a multi-document file, a key written twice), it says so instead of
guessing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import yaml


class ConfigEditError(ValueError):
    """The file cannot be edited safely; the message names the problem and the fix."""


def load(text: str, what: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        # Only the problem and its place: the file holds the join token.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigEditError(
            f"{what} is not valid YAML ({problem}{where}); fix the file by hand "
            "(k3s cannot read it either)"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigEditError(f"{what} is not a YAML mapping of k3s flags; fix the file by hand")
    return data


def as_list(value: object) -> list[str]:
    """k3s takes a list flag as a YAML list or, for a single value, as one string."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def desired_list(current: object, drop_prefixes: Iterable[str], add: Iterable[str]) -> list[str]:
    """The current items without those starting with a dropped prefix, then ``add``."""
    prefixes = tuple(drop_prefixes)
    return [i for i in as_list(current) if not i.startswith(prefixes)] + list(add)


def _key_line(key: str) -> re.Pattern[str]:
    quoted = re.escape(key)
    return re.compile(rf"^(?:{quoted}|\"{quoted}\"|'{quoted}')\s*:(?:\s|$)")


def _block_end(lines: list[str], start: int) -> int:
    """Index after the last line of the value of the key on line ``start``.

    The value goes on while lines are indented or are column-0 sequence items; blank and
    comment lines belong to it only when more of the value follows them.
    """
    end = start + 1
    i = start + 1
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        if line[:1] in (" ", "\t") or line.startswith("- ") or line.rstrip() == "-":
            i += 1
            end = i
            continue
        break
    return end


def _render(key: str, items: list[str]) -> list[str]:
    if not items:
        return [f"{key}: []\n"]
    # JSON strings are valid YAML double-quoted scalars: "a=b" stays a string.
    return [f"{key}:\n", *(f"  - {json.dumps(item)}\n" for item in items)]


def set_list(text: str, key: str, items: list[str], what: str = "the file") -> str:
    """``text`` with the top-level ``key`` set to ``items``; unchanged if it already is."""
    data = load(text, what)
    if key in data and as_list(data[key]) == items and isinstance(data[key], list):
        return text
    lines = text.splitlines(keepends=True)
    starts = [n for n, line in enumerate(lines) if _key_line(key).match(line)]
    if len(starts) > 1:
        raise ConfigEditError(
            f"{what} sets {key} on {len(starts)} lines; keep one {key} list and rerun"
        )
    if starts:
        start = starts[0]
        new_lines = [*lines[:start], *_render(key, items), *lines[_block_end(lines, start) :]]
    else:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        new_lines = [*lines, *_render(key, items)]
    new_text = "".join(new_lines)
    expected = {**data, key: items}
    try:
        same = load(new_text, what) == expected
    except ConfigEditError:
        same = False
    if not same:
        raise ConfigEditError(
            f"{what} has a layout this role cannot edit safely around {key} (an anchor, "
            f"a flow mapping or several documents); add {items} to {key} by hand"
        )
    return new_text


def edit_list_flag(
    text: str, key: str, drop_prefixes: Iterable[str], add: Iterable[str], what: str = "the file"
) -> str:
    """``text`` with list flag ``key`` holding its items minus ``drop_prefixes``, plus ``add``."""
    items = desired_list(load(text, what).get(key), drop_prefixes, add)
    return set_list(text, key, items, what)


def edit_problem(
    text: str, key: str, drop_prefixes: Iterable[str], add: Iterable[str], what: str = "the file"
) -> str:
    """Why ``edit_list_flag`` would refuse ``text``, or "" when it can edit it."""
    try:
        edit_list_flag(text, key, drop_prefixes, add, what)
    except ConfigEditError as exc:
        return str(exc)
    return ""
