"""Benchmark: playbooks/diagnose.yml's wall time on the incident lab, by node count.

    python bench/diagnose_walltime.py                       # 1, 2 and 4 agents, 2 runs each
    python bench/diagnose_walltime.py --agents 2 --repeat 3 # only the three-node lab
    python bench/diagnose_walltime.py --break incident      # the broken lab instead

For each agent count: `lab/lab up --agents N` (its own lab, REMEDY_LAB_PREFIX, default
`bench-`), optionally `lab/lab break ...`, then diagnose.yml --repeat times; prints the
median wall time, the slowest task (profile_tasks) and the machine's load average, and
takes the lab down at the end. Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASK_LINE = re.compile(r"^(?P<task>.+?) -+ (?P<seconds>\d+\.\d+)s$")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeat", type=int, default=2, help="diagnose runs per size")
    parser.add_argument("--prefix", default=os.environ.get("REMEDY_LAB_PREFIX") or "bench-")
    parser.add_argument("--break", dest="breakers", nargs="*", default=[])
    parser.add_argument("--keep", action="store_true", help="leave the last lab up")
    return parser.parse_args()


def env(prefix: str) -> dict[str, str]:
    out = dict(os.environ, REMEDY_LAB_PREFIX=prefix, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    out["PATH"] = f"{ROOT / '.venv' / 'bin'}:{out.get('PATH', '')}"
    out.setdefault("CONTAINERS_CONF", str(ROOT / ".cache" / "containers" / "containers.conf"))
    return out


def lab(args: list[str], prefix: str) -> float:
    start = time.monotonic()
    subprocess.run([str(ROOT / "lab" / "lab"), *args], env=env(prefix), check=True)
    return time.monotonic() - start


def slowest_task(output: str) -> str:
    tasks = [
        (float(m["seconds"]), m["task"].strip())
        for line in output.splitlines()
        if (m := TASK_LINE.match(line.strip()))
    ]
    if not tasks:
        return "?"
    seconds, task = max(tasks)
    return f"{task.split(' : ', 1)[-1][:60]} {seconds:.1f}s"


def diagnose_once(prefix: str, reports: Path) -> tuple[float, str, int]:
    inventory = ROOT / ".cache" / f"lab-{prefix.rstrip('-')}" / "inventory" / "hosts.yml"
    start = time.monotonic()
    proc = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(inventory),
            str(ROOT / "playbooks" / "diagnose.yml"),
            "-e",
            "diagnose_fail_on=never",
            "-e",
            f"diagnose_reports_dir={reports}",
        ],
        env=env(prefix),
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-2000:])
        raise SystemExit(f"diagnose.yml failed (rc={proc.returncode})")
    findings = json.loads((reports / "diagnose-latest.json").read_text())["summary"]["total"]
    return elapsed, slowest_task(proc.stdout), findings


def main() -> int:
    args = parse_args()
    rows = []
    try:
        for agents in args.agents:
            up = lab(["up", "--agents", str(agents)], args.prefix)
            if args.breakers:
                lab(["break", *args.breakers], args.prefix)
            with tempfile.TemporaryDirectory(prefix="bench-diagnose-") as tmp:
                runs = [diagnose_once(args.prefix, Path(tmp)) for _ in range(args.repeat)]
            times = [r[0] for r in runs]
            rows.append(
                {
                    "nodes": agents + 1,
                    "lab_up_s": round(up, 1),
                    "runs_s": [round(t, 1) for t in times],
                    "median_s": round(statistics.median(times), 1),
                    "slowest_task": runs[-1][1],
                    "findings": runs[-1][2],
                    "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    finally:
        if not args.keep:
            lab(["down"], args.prefix)
    print()
    print("| nodes | diagnose.yml median (s) | runs (s) | findings | slowest task | load avg |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        runs = ", ".join(f"{t:g}" for t in row["runs_s"])
        print(
            f"| {row['nodes']} | {row['median_s']:g} | {runs} | {row['findings']} | "
            f"{row['slowest_task']} | {row['load']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
