"""Where a lab lives: container names, network, controller-side files, saved state."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_IMAGE = "localhost/remedy-k3s-node:bookworm"
DEFAULT_VERSION = "v1.31.4+k3s1"
NETWORK = "remedy-lab"
API_PORT = 6443
REGISTRY_PORT = 5000
STANDIN_DIR = "/opt/remedy-k3s"

_PREFIX = re.compile(r"^[a-z0-9][a-z0-9-]*-$")


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Node:
    """A lab node: its Kubernetes/host name and the podman container that runs it."""

    name: str
    container: str
    role: str  # "server" | "agent"


@dataclass(frozen=True)
class Paths:
    """Controller-side files of one lab (a prefixed lab keeps all of them under .cache)."""

    state_dir: Path
    kubeconfig: Path
    inventory: Path

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"


def paths_for(root: Path, prefix: str) -> Paths:
    if not prefix:
        state_dir = root / ".cache" / "lab"
        return Paths(state_dir, state_dir / "kubeconfig", root / "inventory" / "lab" / "hosts.yml")
    state_dir = root / ".cache" / f"lab-{prefix.rstrip('-')}"
    return Paths(state_dir, state_dir / "kubeconfig", state_dir / "inventory" / "hosts.yml")


def check_prefix(prefix: str) -> str:
    if prefix and not _PREFIX.match(prefix):
        raise ValueError(
            f"--name-prefix {prefix!r} must be lower-case letters, digits and dashes ending "
            "in '-', e.g. 'ci-'"
        )
    return prefix


@dataclass
class LabState:
    """What ``up`` decided, saved so that break/status/down need no options."""

    prefix: str = ""
    image: str = DEFAULT_IMAGE
    version: str = DEFAULT_VERSION
    agents: int = 2
    token: str = ""
    api_port: int = 0
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def network(self) -> str:
        return f"{self.prefix}{NETWORK}"

    def nodes(self) -> list[Node]:
        nodes = [Node("server", f"{self.prefix}server", "server")]
        nodes += [
            Node(f"agent{i}", f"{self.prefix}agent{i}", "agent") for i in range(1, self.agents + 1)
        ]
        return nodes

    @property
    def server(self) -> Node:
        return self.nodes()[0]

    def agent_nodes(self) -> list[Node]:
        return [n for n in self.nodes() if n.role == "agent"]

    def node(self, name: str) -> Node:
        for node in self.nodes():
            if node.name == name:
                return node
        raise KeyError(f"the lab has no node named {name!r}")

    def save(self, paths: Paths) -> None:
        paths.state_dir.mkdir(parents=True, exist_ok=True)
        paths.state_file.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, paths: Paths) -> LabState:
        if not paths.state_file.is_file():
            raise FileNotFoundError(
                f"no lab state at {paths.state_file}: run `lab up` first "
                "(with the same --name-prefix)"
            )
        return cls(**json.loads(paths.state_file.read_text()))
