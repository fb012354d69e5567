"""Label and field selectors in the apiserver's string syntax."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import ApiError

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]

_SET_RE = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split(selector: str) -> list[str]:
    """Split on commas that are not inside ``( ... )``."""
    parts, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _label_term(term: str) -> Predicate:
    match = _SET_RE.match(term)
    if match:
        key, op, values = (
            match.group(1),
            match.group(2),
            {v.strip() for v in match.group(3).split(",") if v.strip()},
        )
        if op == "in":
            return lambda labels: key in labels and labels[key] in values
        return lambda labels: key not in labels or labels[key] not in values
    for op in ("!=", "==", "="):
        if op in term:
            key, value = (s.strip() for s in term.split(op, 1))
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if term.startswith("!"):
        key = term[1:].strip()
        return lambda labels: key not in labels
    key = term
    return lambda labels: key in labels


def label_selector(selector: str | None) -> Predicate:
    if not selector:
        return lambda _obj: True
    terms = [_label_term(t) for t in _split(selector)]

    def matches(obj: Obj) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(term(labels) for term in terms)

    return matches


def match_label_selector(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A ``metav1.LabelSelector`` (matchLabels / matchExpressions) against labels."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(match_expression(e, labels) for e in selector.get("matchExpressions") or [])


def match_expression(expr: dict[str, Any], labels: dict[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
    present = key in labels
    checks: dict[str, Callable[[], bool]] = {
        "In": lambda: present and labels[key] in values,
        "NotIn": lambda: not present or labels[key] not in values,
        "Exists": lambda: present,
        "DoesNotExist": lambda: not present,
        "Gt": lambda: present and _int(labels[key]) > _int(values[0]),
        "Lt": lambda: present and _int(labels[key]) < _int(values[0]),
    }
    check = checks.get(op)
    return bool(check and check())


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def field_value(obj: Obj, path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return "false" if path == "spec.unschedulable" else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field_selector(selector: str | None) -> Predicate:
    if not selector:
        return lambda _obj: True
    terms: list[tuple[str, bool, str]] = []
    for term in _split(selector):
        for op in ("!=", "==", "="):
            if op in term:
                key, value = (s.strip() for s in term.split(op, 1))
                terms.append((key, op != "!=", value))
                break
        else:
            raise ApiError(400, f"invalid selector: '{selector}'; can't understand '{term}'")
    return lambda obj: all((field_value(obj, k) == v) == eq for k, eq, v in terms)
