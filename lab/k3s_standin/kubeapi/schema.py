"""Real Kubernetes object schemas (from the PyPI package kubernetes-validate), compacted.

The lab's containers do not have kubernetes-validate, so the definitions the served
resources need are extracted once into ``data/schemas.json`` (``python -m
k3s_standin.kubeapi.schema`` regenerates it; a test checks that it is current). They serve
``/openapi/v3``, strategic-merge-patch merge keys and strict field validation.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

from .resources import RESOURCES

DATA_FILE = Path(__file__).with_name("data") / "schemas.json"
SCHEMA_VERSION = "v1.31.0"
REF_PREFIX = "#/components/schemas/"
EXTRA_ROOTS = (
    "io.k8s.api.autoscaling.v1.Scale",
    "io.k8s.api.policy.v1.Eviction",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
)
_KEEP = {
    "type",
    "format",
    "items",
    "properties",
    "additionalProperties",
    "$ref",
    "required",
    "oneOf",
    "allOf",
    "x-kubernetes-patch-merge-key",
    "x-kubernetes-patch-strategy",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-group-version-kind",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-unions",
}

Schema = dict[str, Any]


def roots() -> list[str]:
    names = [res.schema for res in RESOURCES]
    names += [f"{res.schema}List" for res in RESOURCES]
    return [*names, *EXTRA_ROOTS]


def _compact(node: Any) -> Any:  # noqa: ANN401 - JSON schema fragments are untyped
    if isinstance(node, list):
        return [_compact(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if key not in _KEEP:
            continue
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            out[key] = types[0] if len(types) == 1 else types
        elif key == "$ref":
            out[key] = REF_PREFIX + value.rsplit("/", 1)[-1]
        elif key == "properties":
            out[key] = {name: _compact(sub) for name, sub in value.items()}
        else:
            out[key] = _compact(value)
    return out


def _refs(node: Any) -> set[str]:  # noqa: ANN401
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                found.add(value.rsplit("/", 1)[-1])
            else:
                found |= _refs(value)
    elif isinstance(node, list):
        for item in node:
            found |= _refs(item)
    return found


def extract(definitions: dict[str, Schema], wanted: list[str]) -> dict[str, Schema]:
    """The wanted definitions and everything they reference, without descriptions."""
    out: dict[str, Schema] = {}
    todo = [name for name in wanted if name in definitions]
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out[name] = _compact(definitions[name])
        todo += sorted(_refs(definitions[name]) - out.keys())
    return dict(sorted(out.items()))


def generate_from_kubernetes_validate() -> dict[str, Any]:
    import kubernetes_validate  # noqa: PLC0415 - host-only tool, not in the lab's containers

    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    source = json.loads((base / f"{SCHEMA_VERSION}-local" / "_definitions.json").read_text())
    return {"version": SCHEMA_VERSION, "schemas": extract(source["$defs"], roots())}


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=0, sort_keys=True, separators=(",", ":")) + "\n"


@cache
def load() -> dict[str, Schema]:
    return json.loads(DATA_FILE.read_text())["schemas"]


def resolve(node: Schema | None) -> Schema | None:
    """Follow ``$ref`` (and single-element ``allOf``) to the definition."""
    while node is not None:
        if "$ref" in node:
            node = load().get(node["$ref"].removeprefix(REF_PREFIX))
        elif "allOf" in node and len(node["allOf"]) == 1:
            node = node["allOf"][0]
        else:
            return node
    return None


def field(node: Schema | None, name: str) -> Schema | None:
    node = resolve(node)
    if node is None:
        return None
    props = node.get("properties")
    if props is not None and name in props:
        return props[name]
    extra = node.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def items(node: Schema | None) -> Schema | None:
    node = resolve(node)
    return None if node is None else node.get("items")


def named(name: str) -> Schema | None:
    return load().get(name)


def main() -> int:
    DATA_FILE.parent.mkdir(exist_ok=True)
    DATA_FILE.write_text(render(generate_from_kubernetes_validate()))
    print(f"wrote {DATA_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
