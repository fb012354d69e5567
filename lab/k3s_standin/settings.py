"""Lab settings: the k3s version being imitated and the knobs that make the lab quick.

They live in ``/etc/rancher/k3s/lab.yaml`` (written by ``k3s_standin.install``). Every
version-dependent behaviour defaults from the version string, following the k3s release notes:

* ``certificate rotate`` exists since v1.21.8 / v1.22.5 / v1.23.1;
* ``certificate check`` exists since v1.29.4 (April 2024), first with ``--output text|table``
  and full-path log lines;
* the May 2025 releases (v1.30.13, v1.31.9, v1.32.5, v1.33.1) renew inside 120 days instead of
  90 and reworked ``certificate check`` (basename + usages, ``json`` and ``yaml`` outputs).

Guess noted: check was introduced in the 1.29 line; older minor lines (1.28 and below) are
treated as lacking it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

DEFAULT_VERSION = "v1.31.4+k3s1"

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def parse_version(version: str) -> tuple[int, int, int]:
    match = _VERSION_RE.match(version)
    if not match:
        raise ValueError(f"k3s version {version!r} is not of the form v1.31.4+k3s1")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def _at_least(version: str, firsts: dict[int, int], newer_from: int) -> bool:
    """True when the version's minor line got the feature at ``firsts[minor]`` or is newer."""
    _, minor, patch = parse_version(version)
    if minor >= newer_from:
        return True
    first = firsts.get(minor)
    return first is not None and patch >= first


def has_rotate(version: str) -> bool:
    return _at_least(version, {21: 8, 22: 5}, newer_from=23)


def has_check(version: str) -> bool:
    return _at_least(version, {29: 4}, newer_from=30)


def is_may_2025_or_newer(version: str) -> bool:
    return _at_least(version, {30: 13, 31: 9, 32: 5, 33: 1}, newer_from=34)


@dataclass(frozen=True)
class LabSettings:
    """What a lab node imitates; see the module docstring for the version rules."""

    version: str = DEFAULT_VERSION
    certificate_check: bool | None = None
    certificate_rotate: bool | None = None
    check_output_v2: bool | None = None
    renew_window_days: int | None = None
    node_grace_seconds: float = 20.0
    pod_eviction_seconds: float = 30.0
    heartbeat_seconds: float = 5.0
    storm_lines_per_second: float = 40.0
    fail_start_after_rotation: bool = False

    def resolved(self) -> LabSettings:
        """Fill the version-dependent fields that were left unset."""
        modern = is_may_2025_or_newer(self.version)
        return LabSettings(
            **{
                **asdict(self),
                "certificate_check": _default(self.certificate_check, has_check(self.version)),
                "certificate_rotate": _default(self.certificate_rotate, has_rotate(self.version)),
                "check_output_v2": _default(self.check_output_v2, modern),
                "renew_window_days": self.renew_window_days or (120 if modern else 90),
            }
        )

    @property
    def window_days(self) -> int:
        return self.resolved().renew_window_days or 90


def _default(value: bool | None, fallback: bool) -> bool:
    return fallback if value is None else value


def load(path: Path) -> LabSettings:
    """Read lab.yaml; a missing file means a default lab (v1.31.4+k3s1)."""
    if not path.exists():
        return LabSettings().resolved()
    data = yaml.safe_load(path.read_text()) or {}
    return from_mapping(data).resolved()


def from_mapping(data: dict[str, Any]) -> LabSettings:
    known = {field.name: field for field in fields(LabSettings)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(
            f"unknown lab setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return LabSettings(**{key: _coerce(known[key].type, value) for key, value in data.items()})


def _coerce(kind: object, value: object) -> object:
    """Turn ``--lab-setting k=v`` strings into the field's type."""
    if not isinstance(value, str):
        return value
    text = str(kind)
    if "bool" in text:
        lowered = value.strip().lower()
        if lowered in {"", "none", "null"}:
            return None
        return lowered in {"1", "true", "yes", "on"}
    if "int" in text:
        return None if value.lower() in {"", "none", "null"} else int(value)
    if "float" in text:
        return float(value)
    return value


def dump(settings: LabSettings) -> str:
    return yaml.safe_dump(asdict(settings), sort_keys=True)
