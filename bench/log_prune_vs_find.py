#!/usr/bin/env python3
"""Time remedy.k3s.log_prune against ``find ROOT -type f -name '*.gz' -delete``.

Builds a synthetic /var/log-like tree of rotated, compressed logs (sparse files: their
apparent size is set with ftruncate, nothing is written), then prunes the very same tree
(rebuilt before each run) with the module's logic imported in-process and with find, in
rotating order. The module runs with ``keep_rotated=0`` and no target, so it deletes
exactly the files find deletes; a third run adds a budget that is never reached, which
makes the module plan the whole tree oldest first and re-check every file before it goes;
a fourth run has find also print what the module reports per file (allocated size, mtime,
path), which makes find stat every file as the module does.
Prints each time, the medians and the ratios; with ``--ansible`` it also times one
``ansible localhost -m remedy.k3s.log_prune`` run on the same tree.

    python bench/log_prune_vs_find.py [--files 100000] [--rounds 3] [--ansible]
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / ".cache" / "collections"
FIND_PATTERN = "*.gz"


def _import_module_utils():
    link = COLLECTIONS / "ansible_collections" / "remedy" / "k3s"
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(ROOT, target_is_directory=True)
    sys.path.insert(0, str(COLLECTIONS))
    return importlib.import_module("ansible_collections.remedy.k3s.plugins.module_utils.log_prune")


def build_tree(top: Path, files: int, dirs: int, apparent: int) -> int:
    """Create ``files`` sparse rotated logs spread over ``dirs`` directories."""
    per_dir = max(1, files // dirs)
    made = 0
    for d in range(dirs):
        directory = top / f"svc{d:03d}"
        directory.mkdir(parents=True)
        for i in range(per_dir):
            if made == files:
                return made
            name = f"{directory}/app{i % 20}.log.{i // 20 + 1}.gz"
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            os.ftruncate(fd, apparent)
            os.close(fd)
            made += 1
    return made


def drop_caches_hint() -> None:
    os.sync()


def _cpu(children: bool) -> float:
    t = os.times()
    return t.children_user + t.children_system if children else t.user + t.system


def time_module(log_prune, top: Path, planned: bool = False) -> tuple[float, float]:
    params = {"paths": [str(top)], "allowed_roots": [str(top)], "keep_rotated": 0, "exclude": []}
    if planned:
        # A budget that is never reached: same deletions, but planned oldest first over the
        # whole tree and each file re-checked by inode before it goes.
        params["max_delete"] = "1024T"
    options = log_prune.build_options(params)
    cpu, start = _cpu(children=False), time.perf_counter()
    log_prune.prune(options, check_mode=False)
    return time.perf_counter() - start, _cpu(children=False) - cpu


def time_find(top: Path, report: bool = False) -> tuple[float, float]:
    cmd = ["find", str(top), "-type", "f", "-name", FIND_PATTERN]
    if report:
        # What the module reports per file: allocated size, mtime, path. find must then
        # stat every file, as the module does.
        cmd += ["-printf", "%b %T@ %p\\n"]
    cmd.append("-delete")
    cpu, start = _cpu(children=True), time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, _cpu(children=True) - cpu


def time_ansible(top: Path) -> tuple[float, str]:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS))
    env.setdefault("ANSIBLE_PYTHON_INTERPRETER", sys.executable)
    args = f"paths={top} allowed_roots={top} keep_rotated=0 exclude="
    beside = Path(sys.executable).parent / "ansible"
    ansible = str(beside) if beside.exists() else shutil.which("ansible") or "ansible"
    cmd = [ansible, "localhost", "-c", "local", "-o", "-m", "remedy.k3s.log_prune", "-a", args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    status = proc.stdout[:60].split("{", 1)[0].strip() or proc.stderr[-300:]
    return elapsed, f"{status} (rc={proc.returncode}); command: {' '.join(cmd)}"


def remaining(top: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(top))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--dirs", type=int, default=200)
    parser.add_argument("--apparent", type=int, default=64 * 1024, help="bytes per file")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ansible", action="store_true", help="also time one ansible run")
    parser.add_argument("--tmp", default=None, help="where to build the tree")
    args = parser.parse_args()

    log_prune = _import_module_utils()
    work = Path(tempfile.mkdtemp(prefix="log_prune_bench.", dir=args.tmp))
    top = work / "log"
    tools = ["module", "find", "planned", "find+printf"]
    times: dict[str, list[float]] = {tool: [] for tool in tools}
    cpus: dict[str, list[float]] = {tool: [] for tool in tools}
    try:
        for round_no in range(args.rounds):
            order = tools[round_no % len(tools) :] + tools[: round_no % len(tools)]
            for tool in order:
                made = build_tree(top, args.files, args.dirs, args.apparent)
                drop_caches_hint()
                if tool.startswith("find"):
                    elapsed, cpu = time_find(top, report=tool == "find+printf")
                else:
                    elapsed, cpu = time_module(log_prune, top, planned=tool == "planned")
                left = remaining(top)
                if left:
                    print(f"{tool}: {left} files left behind", file=sys.stderr)
                    return 1
                times[tool].append(elapsed)
                cpus[tool].append(cpu)
                print(
                    f"round {round_no + 1} {tool:11s} wall {elapsed:7.3f} s  cpu {cpu:7.3f} s"
                    f"  ({made} files)"
                )
                shutil.rmtree(top)
        gib = args.files * args.apparent / 1024**3
        print(f"tree: {args.files} files in {args.dirs} dirs, {gib:.1f} GiB apparent (sparse)")
        print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        for label, series in (("wall", times), ("cpu (user+sys)", cpus)):
            med = {tool: statistics.median(series[tool]) for tool in tools}
            print(
                f"median {label}: module {med['module']:.3f} s, find {med['find']:.3f} s, "
                f"ratio {med['module'] / med['find']:.2f}x; with a budget (planned oldest "
                f"first) {med['planned']:.3f} s, ratio {med['planned'] / med['find']:.2f}x; "
                f"find -printf '%b %T@ %p' -delete {med['find+printf']:.3f} s, module/that "
                f"{med['module'] / med['find+printf']:.2f}x"
            )
        if args.ansible:
            build_tree(top, args.files, args.dirs, args.apparent)
            drop_caches_hint()
            elapsed, status = time_ansible(top)
            print(f"ansible -m remedy.k3s.log_prune: {elapsed:.3f} s, {status}")
            print(f"ansible left {remaining(top)} files")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
