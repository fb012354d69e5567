"""Thin, typed wrapper around the podman CLI (the lab needs nothing podman-py offers)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class PodmanError(RuntimeError):
    """A podman command failed; the message carries the command and its stderr."""


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def default_containers_conf(repo_root: Path) -> Path | None:
    """The project's containers.conf (scripts/setup writes it) unless the caller set one."""
    if os.environ.get("CONTAINERS_CONF"):
        return Path(os.environ["CONTAINERS_CONF"])
    candidate = repo_root / ".cache" / "containers" / "containers.conf"
    return candidate if candidate.is_file() else None


@dataclass(frozen=True)
class Podman:
    """Runs podman with the lab's containers.conf in the environment."""

    containers_conf: Path | None = None
    executable: str = "podman"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.containers_conf is not None:
            env["CONTAINERS_CONF"] = str(self.containers_conf)
        return env

    def run(
        self,
        args: Sequence[str],
        *,
        check: bool = True,
        input_bytes: bytes | None = None,
        timeout: float | None = 300.0,
    ) -> Result:
        cmd = [self.executable, *args]
        try:
            proc = subprocess.run(
                cmd,
                input=input_bytes,
                capture_output=True,
                env=self.env(),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise PodmanError(
                f"`{' '.join(cmd)}` did not finish in {timeout:.0f}s: is the machine overloaded, "
                "or the container hung? (`podman ps`, `podman logs NAME`)"
            ) from err
        result = Result(
            proc.returncode,
            proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace"),
        )
        if check and result.returncode != 0:
            raise PodmanError(
                f"`{' '.join(cmd)}` failed (exit {result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}"
            )
        return result

    def exec(
        self,
        container: str,
        argv: Sequence[str],
        *,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        input_bytes: bytes | None = None,
        timeout: float | None = 300.0,
    ) -> Result:
        args = ["exec"]
        if input_bytes is not None:
            args.append("-i")
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        return self.run(
            [*args, container, *argv], check=check, input_bytes=input_bytes, timeout=timeout
        )

    def exec_popen(
        self, container: str, argv: Sequence[str], env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start an exec without waiting, so that several nodes install in parallel."""
        args = [self.executable, "exec"]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        return subprocess.Popen(
            [*args, container, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env(),
        )

    def image_exists(self, image: str) -> bool:
        return self.run(["image", "exists", image], check=False).returncode == 0

    def container_exists(self, name: str) -> bool:
        return self.run(["container", "exists", name], check=False).returncode == 0

    def is_running(self, name: str) -> bool:
        result = self.run(["inspect", "--format", "{{.State.Running}}", name], check=False)
        return result.returncode == 0 and result.stdout.strip() == "true"

    def remove_containers(self, names: Sequence[str]) -> None:
        # Stale containers of a dead session are still listed as Up: force-remove by name.
        if names:
            self.run(["rm", "-f", "-t", "0", "--ignore", *names], check=False, timeout=120)

    def remove_network(self, name: str) -> None:
        self.run(["network", "rm", "-f", name], check=False)

    def create_network(self, name: str) -> None:
        self.run(["network", "create", name])

    def container_ip(self, name: str, network: str) -> str:
        data = json.loads(self.run(["inspect", name]).stdout)[0]
        nets = data["NetworkSettings"]["Networks"]
        if network not in nets or not nets[network].get("IPAddress"):
            raise PodmanError(f"container {name} has no address on network {network}")
        return str(nets[network]["IPAddress"])

    def published_port(self, name: str, container_port: int) -> int:
        out = self.run(["port", name, f"{container_port}/tcp"]).stdout.strip()
        # "127.0.0.1:41234"
        return int(out.splitlines()[0].rsplit(":", 1)[1])

    def copy_tree(self, container: str, source: Path, dest_dir: str) -> None:
        """Copy ``source`` (a directory) into ``dest_dir`` in the container, minus caches."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(source, arcname=source.name, filter=_skip_caches)
        self.exec(container, ["mkdir", "-p", dest_dir])
        self.exec(container, ["tar", "-x", "-C", dest_dir, "-f", "-"], input_bytes=buf.getvalue())

    def read_file(self, container: str, path: str) -> str:
        return self.exec(container, ["cat", path]).stdout


def _skip_caches(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    if "__pycache__" in info.name or info.name.endswith(".pyc"):
        return None
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info
