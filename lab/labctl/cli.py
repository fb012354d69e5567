"""The `lab` command: up, break, status, down, kubectl."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from labctl import breakers, kubeconfig, status
from labctl.context import Lab
from labctl.kubeclient import KubeError
from labctl.layout import (
    DEFAULT_IMAGE,
    DEFAULT_VERSION,
    LabState,
    check_prefix,
    paths_for,
    repo_root,
)
from labctl.podman import Podman, PodmanError, default_containers_conf
from labctl.up import LabUpError, bring_up, teardown


def _say(msg: str) -> None:
    print(msg, flush=True)


def _settings(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--settings takes KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lab",
        description="The incident lab: a three-node k3s stand-in in podman that breaks like "
        "the real incident (docs/lab.md).",
    )
    p.add_argument(
        "--name-prefix",
        default=os.environ.get("REMEDY_LAB_PREFIX", ""),
        help="prefix for container and network names, e.g. 'ci-' (env REMEDY_LAB_PREFIX); "
        "node names stay server/agentN",
    )
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="(re)create the lab and wait for every node to be Ready")
    up.add_argument("--agents", type=int, default=2)
    up.add_argument("--servers", type=int, default=1, choices=[1], help="only 1 for now")
    up.add_argument("--version", default=DEFAULT_VERSION, help="k3s version the stand-in reports")
    up.add_argument("--image", default=os.environ.get("REMEDY_NODE_IMAGE", DEFAULT_IMAGE))
    up.add_argument(
        "--settings", nargs="*", default=[], metavar="KEY=VALUE",
        help="lab settings for the stand-in (/etc/rancher/k3s/lab.yaml)",
    )  # fmt: skip

    scenarios = ", ".join(["incident", *breakers.INCIDENT])
    br = sub.add_parser(
        "break",
        help=f"break the lab: {scenarios}",
        description=f"Scenarios: {scenarios}. `incident` runs all of them in the article's "
        "order (--without skips one).",
    )
    br.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    br.add_argument("--without", action="append", default=[], metavar="SCENARIO")
    br.add_argument("--skew-hours", type=float, default=None)
    br.add_argument("--skew-node", default=None, help="node for clock-skew (default: last agent)")

    st = sub.add_parser("status", help="one-screen summary")
    st.add_argument("--json", action="store_true")

    sub.add_parser("down", help="remove the lab's containers and network")
    kf = sub.add_parser("kubeconfig", help="print the operator kubeconfig's path")
    kf.add_argument(
        "--refresh",
        action="store_true",
        help="copy the server's current k3s.yaml over it first (what an operator does)",
    )
    kc = sub.add_parser("kubectl", help="kubectl with the lab's operator kubeconfig")
    kc.add_argument("args", nargs=argparse.REMAINDER)
    return p


def _lab(prefix: str, state: LabState | None = None) -> Lab:
    root = repo_root()
    paths = paths_for(root, check_prefix(prefix))
    return Lab(
        podman=Podman(default_containers_conf(root)),
        state=state if state is not None else LabState.load(paths),
        paths=paths,
        repo_root=root,
    )


def cmd_up(args: argparse.Namespace) -> int:
    state = LabState(
        prefix=check_prefix(args.name_prefix),
        image=args.image,
        version=args.version,
        agents=args.agents,
        settings=_settings(args.settings),
    )
    bring_up(_lab(args.name_prefix, state), _say)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    paths = paths_for(repo_root(), check_prefix(args.name_prefix))
    # Without saved state, remove what a default lab with this prefix would have made.
    state = LabState.load(paths) if paths.state_file.is_file() else LabState(args.name_prefix)
    teardown(_lab(args.name_prefix, state))
    paths.state_file.unlink(missing_ok=True)
    _say(f"removed the lab's containers and network {state.network}")
    return 0


def cmd_break(args: argparse.Namespace) -> int:
    names = breakers.expand(args.scenarios, args.without)
    opts = breakers.BreakOptions(skew_hours=args.skew_hours, skew_node=args.skew_node)
    timings = breakers.run(_lab(args.name_prefix), names, opts, _say)
    _say(f"broken: {', '.join(names)} in {sum(timings.values()):.1f}s")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    report = status.collect(_lab(args.name_prefix))
    print(json.dumps(report, indent=2) if args.json else status.render(report))
    return 0


def cmd_kubeconfig(args: argparse.Namespace) -> int:
    lab = _lab(args.name_prefix)
    if args.refresh:
        kubeconfig.write_private(lab.paths.kubeconfig, lab.server_k3s_yaml())
    print(lab.paths.kubeconfig)
    return 0


def cmd_kubectl(args: argparse.Namespace) -> int:
    lab = _lab(args.name_prefix)
    venv_kubectl = Path(sys.executable).parent / "kubectl"
    exe = str(venv_kubectl) if venv_kubectl.exists() else "kubectl"
    os.execvp(exe, [exe, "--kubeconfig", str(lab.paths.kubeconfig), *args.args])
    return 127  # not reached: exec replaces this process


COMMANDS = {
    "up": cmd_up,
    "down": cmd_down,
    "break": cmd_break,
    "status": cmd_status,
    "kubeconfig": cmd_kubeconfig,
    "kubectl": cmd_kubectl,
}


def run(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return COMMANDS[args.command](args)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except BrokenPipeError:
        return 0  # `lab status | head`: the reader has all it wants
    except (LabUpError, PodmanError, KubeError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"lab: {err}", file=sys.stderr)
        return 1
