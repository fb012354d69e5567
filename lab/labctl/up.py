"""`lab up`: from nothing to a Ready cluster (server first, then the agents)."""

from __future__ import annotations

import secrets
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from labctl import inventory, kubeconfig, registry, scheduling
from labctl.context import Lab
from labctl.kubeclient import KubeClient, node_ready
from labctl.layout import API_PORT, REGISTRY_PORT, STANDIN_DIR, Node
from labctl.podman import PodmanError
from labctl.waiting import WaitTimeout, wait_for

# The incident's apps start on the agents (the server only got them when the agents failed).
APP_NAMESPACES = {"default"}
LOG_TMPFS = "256m"
JOURNAL_TMPFS = "64m"
Say = Callable[[str], None]


class LabUpError(RuntimeError):
    """Bringing the lab up failed; the message says at which step and what to look at."""


def teardown(lab: Lab) -> None:
    lab.podman.remove_containers([n.container for n in lab.state.nodes()])
    lab.podman.remove_network(lab.state.network)
    lab.control_kubeconfig.unlink(missing_ok=True)


def _run_node(lab: Lab, node: Node) -> None:
    args = [
        "run", "-d", "--systemd=always",
        "--name", node.container, "--hostname", node.name,
        "--network", lab.state.network, "--network-alias", node.name,
        "--mount", f"type=tmpfs,destination=/var/log,tmpfs-size={LOG_TMPFS}",
        "--mount", f"type=tmpfs,destination=/var/log/journal,tmpfs-size={JOURNAL_TMPFS}",
        "--label", "remedy.lab=1", "--label", f"remedy.lab.role={node.role}",
    ]  # fmt: skip
    if node.role == "server":
        args += ["-p", f"127.0.0.1::{API_PORT}"]
    lab.podman.run([*args, lab.state.image, "/sbin/init"])


def _booted(lab: Lab, node: Node) -> bool:
    out = lab.podman.exec(node.container, ["systemctl", "is-system-running"], check=False)
    return out.stdout.strip() in ("running", "degraded")


def _installer_argv(lab: Lab, node: Node) -> list[str]:
    argv = ["python3", "-m", "k3s_standin.install", node.role, "--node-name", node.name]
    if node.role == "agent":
        argv += ["--server", f"https://{lab.state.server.name}:{API_PORT}"]
    argv += ["--token", lab.state.token, "--version", lab.state.version]
    for key, value in sorted(lab.state.settings.items()):
        argv += ["--lab-setting", f"{key}={value}"]
    return argv


def _install(lab: Lab, nodes: list[Node]) -> None:
    procs = [
        (
            node,
            lab.podman.exec_popen(
                node.container, _installer_argv(lab, node), env={"PYTHONPATH": STANDIN_DIR}
            ),
        )
        for node in nodes
    ]
    failures = []
    for node, proc in procs:
        try:
            out, err = proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        if proc.returncode != 0:
            text = (err or out).decode("utf-8", "replace").strip()[-2000:]
            failures.append(f"{node.name}: installer exited {proc.returncode}: {text}")
    if failures:
        raise LabUpError(
            "the k3s stand-in installer failed (see `journalctl -u k3s` / `-u k3s-agent` "
            "in the node):\n" + "\n".join(failures)
        )


REGISTRY_UNIT = """[Unit]
Description=remedy lab: the registry pod's registry on this node (stand-in for containerd)
After=network-online.target

[Service]
ExecStart=/usr/bin/python3 {script} --node {node} --api {api}
Restart=always
RestartSec=2s

[Install]
WantedBy=multi-user.target
"""


def _install_registry_runner(lab: Lab, node: Node) -> None:
    script = f"{STANDIN_DIR}/registry_runner.py"
    source = Path(__file__).resolve().parent / "innode" / "registry_runner.py"
    lab.podman.exec(node.container, ["tee", script], input_bytes=source.read_bytes())
    # A kubelet reaches the API where k3s points it: the server locally, agents via their
    # load balancer on 127.0.0.1:6444.
    api = f"https://127.0.0.1:{API_PORT if node.role == 'server' else 6444}"
    unit = REGISTRY_UNIT.format(script=script, node=node.name, api=api)
    path = "/etc/systemd/system/remedy-lab-registry.service"
    lab.podman.exec(node.container, ["tee", path], input_bytes=unit.encode())
    lab.podman.exec(node.container, ["systemctl", "enable", "--now", "remedy-lab-registry.service"])


def _readyz(lab: Lab) -> bool:
    """/readyz with the server's admin kubeconfig: k3s runs with anonymous-auth=false."""
    try:
        client = KubeClient(kubeconfig.parse(lab.server_k3s_yaml()), timeout=3)
        status, body = client.raw("GET", "/readyz")
    except (OSError, ValueError, PodmanError):
        return False
    return status == 200 and body.strip() == b"ok"


def _nodes_ready(client: KubeClient, names: list[str]) -> bool:
    try:
        nodes = {n["metadata"]["name"]: n for n in client.items("/api/v1/nodes")}
    except OSError:
        return False
    return all(name in nodes and node_ready(nodes[name]) for name in names)


def seed_registry(lab: Lab, say: Say) -> list[str]:
    client = lab.control()
    holder: list[Node] = []

    def registry_answers() -> bool:
        node = registry.registry_node(lab, client)
        if node is None or registry.catalog(lab.podman, node.container, REGISTRY_PORT) is None:
            return False
        holder.append(node)
        return True

    wait_for("the registry pod to run and answer on :5000", registry_answers, 90, 1.0)
    node = holder[-1]
    address = f"{lab.podman.container_ip(node.container, lab.state.network)}:{REGISTRY_PORT}"
    images = registry.images_to_seed(client.items("/apis/apps/v1/deployments"))
    with tempfile.TemporaryDirectory(prefix="lab-oci-") as tmp:
        for name, tag in images:
            layout = Path(tmp, name.replace("/", "_"))
            registry.build_oci_layout(layout, name, tag)
            registry.push(layout, address, name, tag)
    names = registry.catalog(lab.podman, node.container, REGISTRY_PORT) or []
    say(f"registry on {node.name}: {', '.join(names)}")
    return names


def bring_up(lab: Lab, say: Say) -> float:
    """Recreate the lab from scratch; returns the seconds it took."""
    start = time.monotonic()
    if not lab.podman.image_exists(lab.state.image):
        raise LabUpError(
            f"node image {lab.state.image} is missing: run scripts/setup (it builds the image)"
        )
    teardown(lab)
    lab.state.token = secrets.token_hex(24)
    lab.podman.create_network(lab.state.network)
    nodes = lab.state.nodes()
    for node in nodes:
        _run_node(lab, node)
    lab.state.api_port = lab.podman.published_port(lab.state.server.container, API_PORT)
    lab.state.save(lab.paths)
    for node in nodes:
        wait_for(f"systemd in {node.container}", lambda n=node: _booted(lab, n), 90)
        lab.podman.copy_tree(node.container, lab.repo_root / "lab" / "k3s_standin", STANDIN_DIR)
    say(f"nodes booted ({time.monotonic() - start:.0f}s)")

    _install(lab, [lab.state.server])
    wait_for("the server's /readyz", lambda: _readyz(lab), 90)
    kubeconfig.write_private(lab.paths.kubeconfig, lab.server_k3s_yaml())
    say(f"server ready ({time.monotonic() - start:.0f}s)")

    _install(lab, lab.state.agent_nodes())
    for node in nodes:
        _install_registry_runner(lab, node)
    client = lab.control()
    names = [n.name for n in nodes]
    wait_for("every node to be Ready", lambda: _nodes_ready(client, names), 120, 1.0)
    say(f"{len(names)} nodes Ready ({time.monotonic() - start:.0f}s)")

    moved = scheduling.move_replicaset_pods(client, {lab.state.server.name}, APP_NAMESPACES)
    say(f"{moved} app pods spread to the agents ({time.monotonic() - start:.0f}s)")
    try:
        seed_registry(lab, say)
    except (WaitTimeout, RuntimeError) as err:
        say(f"WARNING: the registry could not be seeded ({err}); `lab status` shows its state")
    inventory.write(lab.state, lab.paths)
    elapsed = time.monotonic() - start
    say(f"lab up in {elapsed:.0f}s")
    say(f"kubeconfig {lab.paths.kubeconfig}; inventory {lab.paths.inventory}")
    return elapsed
