"""The lab's private registry: seed it with tiny images, read its catalog.

The images are built here as an OCI layout from a one-file tarball (no registry to pull
from exists), then pushed with skopeo, the way an operator's CI would push.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from labctl.context import Lab
from labctl.kubeclient import KubeClient
from labctl.layout import Node
from labctl.podman import Podman

SEED_TAG = "1.0"
# The host name the incident's Deployments pull from (the cluster's registries.yaml maps it).
REGISTRY_HOST = "registry.lab:5000"


def images_to_seed(deployments: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(repository, tag) of every image the Deployments pull from the private registry."""
    found = set()
    for dep in deployments:
        spec = dep.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers") or []:
            image = str(container.get("image", ""))
            if image.startswith(REGISTRY_HOST + "/"):
                repo, _, tag = image[len(REGISTRY_HOST) + 1 :].partition(":")
                found.add((repo, tag or "latest"))
    return sorted(found)


def _blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return f"sha256:{digest}", len(data)


def _layer_tar(name: str) -> bytes:
    buf = io.BytesIO()
    content = f"{name}: a placeholder image of the incident lab\n".encode()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("srv/README")
        info.size = len(content)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def build_oci_layout(layout: Path, name: str, tag: str = SEED_TAG) -> None:
    """Write a single-layer OCI image layout for ``name`` at ``layout`` (ref = tag)."""
    raw = _layer_tar(name)
    layer = gzip.compress(raw, mtime=0)
    layer_digest, layer_size = _blob(layout, layer)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/true"], "Labels": {"remedy.lab/app": name}},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(raw).hexdigest()}"]},
    }
    config_digest, config_size = _blob(layout, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": layer_size,
            }
        ],
    }
    manifest_digest, manifest_size = _blob(layout, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": manifest_size,
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))


def push(layout: Path, registry: str, name: str, tag: str = SEED_TAG) -> None:
    """Push the layout to ``registry`` (host:port, plain HTTP) as ``name:tag``."""
    cmd = [
        "skopeo",
        "--insecure-policy",
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        f"oci:{layout}:{tag}",
        f"docker://{registry}/{name}:{tag}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed: {proc.stderr.strip()}")


def catalog(podman: Podman, container: str, port: int) -> list[str] | None:
    """The registry's repositories, read from inside its node; None if it does not answer."""
    result = podman.exec(
        container,
        ["curl", "-sf", "--max-time", "5", f"http://127.0.0.1:{port}/v2/_catalog"],
        check=False,
        timeout=20,
    )
    if result.returncode != 0:
        return None
    try:
        return list(json.loads(result.stdout).get("repositories") or [])
    except ValueError:
        return None


def serving_pod_uid(podman: Podman, container: str) -> str | None:
    """The uid of the pod whose registry the node's runner has started, if any."""
    result = podman.exec(
        container, ["cat", "/run/remedy-lab-registry/pod-uid"], check=False, timeout=20
    )
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def registry_pod(client: KubeClient) -> dict[str, Any] | None:
    """The incident's registry pod (label app=registry), the newest if several exist."""
    pods = [
        p
        for p in client.items("/api/v1/pods")
        if (p["metadata"].get("labels") or {}).get("app") == "registry"
        and not p["metadata"].get("deletionTimestamp")
    ]
    pods.sort(key=lambda p: p["metadata"].get("creationTimestamp") or "")
    return pods[-1] if pods else None


def registry_node(lab: Lab, client: KubeClient) -> Node | None:
    pod = registry_pod(client)
    node_name = (pod or {}).get("spec", {}).get("nodeName")
    if not node_name or (pod or {}).get("status", {}).get("phase") != "Running":
        return None
    try:
        return lab.state.node(node_name)
    except KeyError:
        return None
