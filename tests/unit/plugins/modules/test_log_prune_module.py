"""The log_prune module run as Ansible runs it: a Python process given JSON arguments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from ansible_collections.remedy.k3s.plugins.modules import log_prune as module_file

REPO = Path(__file__).resolve().parents[4]
MODULE = REPO / "plugins" / "modules" / "log_prune.py"
COLLECTIONS = REPO / ".cache" / "collections"


def run_module(tmp_path: Path, args: dict[str, object], check: bool = False) -> dict:
    payload = dict(args, _ansible_check_mode=check)
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": payload}))
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS))
    proc = subprocess.run(
        [sys.executable, str(MODULE), str(args_file)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=tmp_path,
    )
    return json.loads(proc.stdout)


def tree(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()
    }


def make_logs(root: Path) -> None:
    for i in range(1, 4):
        log = root / f"syslog.{i}.gz"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_bytes(b"z" * 5000)
        os.utime(log, (1_700_000_000 - i * 86_400,) * 2)
    (root / "syslog").write_bytes(b"a" * 20_000)


def base_args(root: Path) -> dict[str, object]:
    return {"paths": [str(root)], "allowed_roots": [str(root)], "exclude": []}


def test_documentation_is_valid_yaml_and_matches_the_argument_spec() -> None:
    doc = yaml.safe_load(module_file.DOCUMENTATION)
    yaml.safe_load(module_file.EXAMPLES)
    returned = yaml.safe_load(module_file.RETURN)
    spec = module_file._argument_spec()
    assert set(doc["options"]) == set(spec)
    for name, option in doc["options"].items():
        assert option["type"] == spec[name]["type"], name
        assert option.get("default") == spec[name].get("default"), name
        assert option.get("aliases") == spec[name].get("aliases"), name
    for key, value in returned.items():
        assert {"description", "returned", "type", "sample"} <= set(value), key


def test_prunes_and_reports(tmp_path: Path) -> None:
    root = tmp_path / "log"
    make_logs(root)
    result = run_module(tmp_path, {**base_args(root), "keep_rotated": 1, "truncate_over": "10K"})
    assert result["changed"] is True
    assert [r["path"] for r in result["removed"]] == [
        str(root / "syslog.3.gz"),
        str(root / "syslog.2.gz"),
    ]
    assert [t["path"] for t in result["truncated"]] == [str(root / "syslog")]
    assert result["freed"] == sum(r["bytes"] for r in result["removed"] + result["truncated"])
    assert result["target_met"] is True
    assert tree(root) == {"syslog": 0, "syslog.1.gz": 5000}
    again = run_module(tmp_path, {**base_args(root), "keep_rotated": 1, "truncate_over": "10K"})
    assert again["changed"] is False
    assert again["removed"] == []


def test_check_mode_reports_the_plan_and_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "log"
    make_logs(root)
    args = {**base_args(root), "keep_rotated": 0, "truncate_over": "10K"}
    before = tree(root)
    plan = run_module(tmp_path, args, check=True)
    assert tree(root) == before
    assert plan["changed"] is True
    assert plan["msg"].startswith("would free")
    done = run_module(tmp_path, args)
    assert plan["removed"] == done["removed"]
    assert plan["truncated"] == done["truncated"]


def test_bad_size_fails_naming_the_option(tmp_path: Path) -> None:
    result = run_module(tmp_path, {**base_args(tmp_path), "target_free": "5 GB"})
    assert result["failed"] is True
    assert "target_free" in result["msg"]
    assert "target_free=20%" in result["msg"]


def test_path_outside_allowed_roots_fails_and_touches_nothing(tmp_path: Path) -> None:
    outside = tmp_path / "etc"
    make_logs(outside)
    before = tree(outside)
    result = run_module(
        tmp_path,
        {"paths": [str(outside)], "allowed_roots": [str(tmp_path / "log")], "keep_rotated": 0},
    )
    assert result["failed"] is True
    assert str(outside) in result["msg"]
    assert "allowed_roots" in result["msg"]
    assert tree(outside) == before


def test_live_pods_alias_reaches_pod_selection(tmp_path: Path) -> None:
    root = tmp_path / "log"
    for uid in ("dead", "live"):
        log = root / "pods" / f"ns_pod-{uid}_{uid}" / "c" / "0.log"
        log.parent.mkdir(parents=True)
        log.write_bytes(b"p" * 100)
    args = {**base_args(root), "pods_dir": str(root / "pods"), "live_pods": ["live"]}
    result = run_module(tmp_path, args)
    assert [r["path"] for r in result["removed"]] == [str(root / "pods" / "ns_pod-dead_dead")]
    assert sorted(p.name for p in (root / "pods").iterdir()) == ["ns_pod-live_live"]
