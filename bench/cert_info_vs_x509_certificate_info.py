"""Benchmark: one remedy.k3s.cert_info scan against community.crypto.x509_certificate_info
looped over the same files (the way a user would do it today), in the same playbook run.

    # default: connection local against a generated k3s server tree in a tmp dir
    python bench/cert_info_vs_x509_certificate_info.py
    # a lab node (needs cryptography on the node for x509_certificate_info)
    python bench/cert_info_vs_x509_certificate_info.py -i inventory/lab/hosts.yml --host server

Prints each task's wall time (from the ansible.posix.json callback's task durations), the
median over --repeat runs, and the ratios. Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from k3s_cert_tree import write_server_tree  # noqa: E402 - bench/ is not a package

PLAYBOOK = """
- name: Scan a k3s server's certificates both ways
  hosts: "{{ bench_host }}"
  gather_facts: false
  tasks:
    - name: Warm up the connection
      ansible.builtin.ping:

    - name: remedy.k3s.cert_info
      remedy.k3s.cert_info:
        data_dir: "{{ bench_data_dir }}"
        kubeconfigs: ["{{ bench_kubeconfig }}"]
      register: bench_scan

    - name: find server/tls
      ansible.builtin.find:
        paths: "{{ bench_data_dir }}/server/tls"
        patterns: "*.crt"
        recurse: true
      register: bench_tls

    - name: find agent
      ansible.builtin.find:
        paths: "{{ bench_data_dir }}/agent"
        patterns: "*.crt"
      register: bench_agent

    - name: community.crypto.x509_certificate_info loop
      community.crypto.x509_certificate_info:
        path: "{{ item }}"
      loop: "{{ (bench_tls.files + bench_agent.files) | map(attribute='path') | list }}"
      register: bench_loop
"""
TASKS = {
    "cert_info": "remedy.k3s.cert_info",
    "find": ("find server/tls", "find agent"),
    "loop": "community.crypto.x509_certificate_info loop",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", help="inventory (default: local generated tree)")
    parser.add_argument("--host", default="localhost", help="host to scan (default: localhost)")
    parser.add_argument("--data-dir", default="/var/lib/rancher/k3s")
    parser.add_argument("--kubeconfig", default="/etc/rancher/k3s/k3s.yaml")
    parser.add_argument("--repeat", type=int, default=3, help="playbook runs (median is kept)")
    parser.add_argument("-b", "--become", action="store_true", help="pass --become")
    return parser.parse_args()


def task_seconds(task: dict) -> float:
    duration = task["task"]["duration"]
    start = datetime.fromisoformat(duration["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(duration["end"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def json_document(stdout: str) -> dict:
    """The json callback's document; enabled callbacks (profile_tasks) print around it."""
    lines = stdout.splitlines()
    start = lines.index("{")
    end = len(lines) - lines[::-1].index("}")
    return json.loads("\n".join(lines[start:end]))


def run_once(cmd: list[str], env: dict[str, str], host: str) -> tuple[dict[str, float], dict]:
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"ansible-playbook failed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    document = json_document(proc.stdout)
    tasks = {t["task"]["name"]: t for t in document["plays"][0]["tasks"]}
    times = {
        "cert_info": task_seconds(tasks[TASKS["cert_info"]]),
        "find": sum(task_seconds(tasks[name]) for name in TASKS["find"]),
        "loop": task_seconds(tasks[TASKS["loop"]]),
    }
    results = {name: t["hosts"][host] for name, t in tasks.items()}
    return times, results


def check_same_files(results: dict, host: str) -> tuple[int, int]:
    scanned = {
        c["path"] for c in results[TASKS["cert_info"]]["certificates"] if c["source"] == "file"
    } | {e["path"] for e in results[TASKS["cert_info"]]["errors"]}
    looped = {r["item"] for r in results[TASKS["loop"]]["results"]}
    if scanned != looped:
        sys.exit(f"{host}: the two ways saw different files: {sorted(scanned ^ looped)}")
    return len(looped), results[TASKS["cert_info"]]["summary"]["total"]


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cert-info-") as tmp:
        work = Path(tmp)
        extra = {"bench_host": args.host}
        inventory = args.inventory
        if inventory is None:
            issued = datetime.now(UTC).replace(microsecond=0) - timedelta(days=300)
            data_dir = write_server_tree(work / "node", issued)
            extra.update(
                bench_data_dir=str(data_dir),
                bench_kubeconfig=str(work / "node/etc/rancher/k3s/k3s.yaml"),
            )
            inventory = "localhost,"
            extra.update(ansible_connection="local", ansible_python_interpreter=sys.executable)
        else:
            extra.update(bench_data_dir=args.data_dir, bench_kubeconfig=args.kubeconfig)
        playbook = work / "bench.yml"
        playbook.write_text(PLAYBOOK)
        env = {
            **os.environ,
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_COLLECTIONS_PATH": f"{ROOT / '.cache/collections'}:"
            + os.environ.get("ANSIBLE_COLLECTIONS_PATH", ""),
        }
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", inventory]
        cmd += ["-e", json.dumps(extra), str(playbook)] + (["--become"] if args.become else [])
        runs = []
        for _ in range(args.repeat):
            times, results = run_once(cmd, env, args.host)
            runs.append(times)
        files, total = check_same_files(results, args.host)
    report(runs, files, total, args)


def report(runs: list[dict[str, float]], files: int, total: int, args: argparse.Namespace) -> None:
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    where = "generated tree, connection local" if args.inventory is None else args.inventory
    print(f"host {args.host} ({where}); median of {len(runs)} run(s)")
    print(f"certificate files: {files}; cert_info entries (files + dynamic + kubeconfig): {total}")
    print(f"remedy.k3s.cert_info                         {median['cert_info']:7.3f} s")
    print(f"community.crypto.x509_certificate_info loop  {median['loop']:7.3f} s")
    print(f"  + find (the files to loop over)            {median['find']:7.3f} s")
    print(
        f"ratio loop / cert_info                       {median['loop'] / median['cert_info']:7.1f}x"
    )
    ratio = (median["loop"] + median["find"]) / median["cert_info"]
    print(f"ratio (find + loop) / cert_info              {ratio:7.1f}x")
    for index, times in enumerate(runs, start=1):
        ratio = times["loop"] / times["cert_info"]
        print(
            f"  run {index}: "
            + ", ".join(f"{k} {v:.3f} s" for k, v in times.items())
            + f"; loop / cert_info {ratio:.1f}x"
        )


if __name__ == "__main__":
    main()
