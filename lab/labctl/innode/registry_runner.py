"""Run the registry pod's registry on this node: the lab's stand-in for containerd.

The k3s stand-in runs no containers, but the incident's registry must be real. This
program, a systemd unit in every lab node (`remedy-lab-registry.service`), watches the API
with the node's kubelet certificate, as a kubelet would, and keeps Debian's
`docker-registry` (the real `registry:2` program) running on :5000 for the registry pod
bound to this node:

* storage is the pod's own writable layer, `/var/lib/kubelet/pods/<pod uid>/rootfs/...`,
  removed when the pod goes: without a volume a restarted registry starts empty, as in the
  incident;
* a pod that mounts a PersistentVolumeClaim at /var/lib/registry keeps its data under
  `/var/lib/rancher/k3s/storage/<namespace>_<claim>` (local-path's place), which survives;
* when the API refuses the node (expired certificates), nothing changes: a kubelet cut
  off from the API leaves its containers running.

Stdlib only: it runs on the node's Debian python3.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

REGISTRY_BIN = "/usr/bin/docker-registry"
REGISTRY_DATA = "/var/lib/registry"
PODS_DIR = Path("/var/lib/kubelet/pods")
STORAGE_DIR = Path("/var/lib/rancher/k3s/storage")
RUN_DIR = Path("/run/remedy-lab-registry")
# The uid of the pod whose registry answers on the port, so that the lab can tell the
# old registry from its replacement (both answer /v2/_catalog).
SERVING_FILE = RUN_DIR / "pod-uid"
AGENT_DIR = Path("/var/lib/rancher/k3s/agent")


@dataclass(frozen=True)
class Desired:
    """The registry this node should run: which pod, and where its data lives."""

    uid: str
    name: str
    storage: Path
    ephemeral: bool


def log(message: str) -> None:
    print(message, flush=True)


def api_get(api: str, path: str, timeout: float = 5.0) -> Any:  # noqa: ANN401
    ctx = ssl.create_default_context(cafile=str(AGENT_DIR / "server-ca.crt"))
    ctx.load_cert_chain(AGENT_DIR / "client-kubelet.crt", AGENT_DIR / "client-kubelet.key")
    host, _, port = api.removeprefix("https://").partition(":")
    conn = http.client.HTTPSConnection(host, int(port or 443), context=ctx, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    if resp.status != 200:
        raise OSError(f"GET {path}: HTTP {resp.status}")
    return json.loads(body)


def is_registry(pod: dict[str, Any]) -> bool:
    containers = pod.get("spec", {}).get("containers") or []
    return any(str(c.get("image", "")).split("/")[-1].startswith("registry:") for c in containers)


def claim_for_data(pod: dict[str, Any]) -> str | None:
    """The PVC mounted at the registry's data path, if any."""
    spec = pod.get("spec", {})
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in spec.get("volumes") or []
        if v.get("persistentVolumeClaim")
    }
    for container in spec.get("containers") or []:
        for mount in container.get("volumeMounts") or []:
            if mount.get("mountPath") == REGISTRY_DATA and mount.get("name") in claims:
                return str(claims[mount["name"]])
    return None


def desired(pods: list[dict[str, Any]]) -> Desired | None:
    live = [
        p
        for p in pods
        if is_registry(p)
        and not p["metadata"].get("deletionTimestamp")
        and p.get("status", {}).get("phase") in ("Pending", "Running")
    ]
    if not live:
        return None
    pod = sorted(live, key=lambda p: p["metadata"].get("creationTimestamp", ""))[-1]
    meta = pod["metadata"]
    claim = claim_for_data(pod)
    if claim:
        return Desired(
            meta["uid"], meta["name"], STORAGE_DIR / f"{meta['namespace']}_{claim}", False
        )
    rootfs = PODS_DIR / meta["uid"] / "rootfs" / REGISTRY_DATA.lstrip("/")
    return Desired(meta["uid"], meta["name"], rootfs, True)


class Runner:
    def __init__(self) -> None:
        self.current: Desired | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        SERVING_FILE.unlink(missing_ok=True)
        if self.current is not None:
            log(f"stopped the registry of pod {self.current.name}")
            if self.current.ephemeral:
                # The container is gone, and its writable layer with it.
                shutil.rmtree(PODS_DIR / self.current.uid, ignore_errors=True)
            self.current = None

    def start(self, want: Desired, port: int) -> None:
        want.storage.mkdir(parents=True, exist_ok=True)
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        config = RUN_DIR / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {want.storage}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: :{port}\n"
        )
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", str(config)])
        self.current = want
        SERVING_FILE.write_text(want.uid + "\n")
        kind = "no volume: starts empty" if want.ephemeral else "volume: data kept"
        log(f"started the registry of pod {want.name} on :{port}, data {want.storage} ({kind})")

    def reconcile(self, want: Desired | None, port: int) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            log(f"docker-registry exited with {self.proc.returncode}; restarting it")
            self.proc = None
            if self.current is not None and want == self.current:
                self.start(want, port)
                return
        if want == self.current and self.proc is not None:
            return
        self.stop()
        if want is not None:
            self.start(want, port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="registry_runner")
    parser.add_argument("--node", required=True)
    parser.add_argument("--api", required=True, help="https://127.0.0.1:6443 or :6444")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args(argv)
    runner = Runner()

    def shutdown(_sig: int, _frame: FrameType | None) -> None:
        runner.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, shutdown)
    refused = ""
    path = f"/api/v1/pods?fieldSelector=spec.nodeName%3D{args.node}"
    while True:
        try:
            pods = api_get(args.api, path).get("items") or []
            pods = [p for p in pods if p.get("spec", {}).get("nodeName") == args.node]
        except (OSError, ValueError) as err:
            if str(err) != refused:
                log(f"cannot list this node's pods ({err}); keeping the registry as it is")
                refused = str(err)
        else:
            refused = ""
            runner.reconcile(desired(pods), args.port)
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
