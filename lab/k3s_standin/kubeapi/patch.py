"""JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

Strategic merge patch follows the schema's ``x-kubernetes-patch-strategy`` and
``x-kubernetes-patch-merge-key`` hints (containers merge by ``name``, ...) and the
directives kubectl sends: ``$patch``, ``$setElementOrder/``, ``$deleteFromPrimitiveList/``
and ``$retainKeys``.
"""

from __future__ import annotations

import copy
from typing import Any

from . import schema as schemas
from .errors import ApiError

Json = Any

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (MERGE_PATCH, JSON_PATCH, STRATEGIC_PATCH, APPLY_PATCH)
_REJECTED = "the server rejected our request due to an error in our request"


def merge_patch(target: Json, patch: Json) -> Json:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- RFC 6902 ----------------------------------------------------------------------------
def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(
            422,
            f'{_REJECTED}: invalid JSON pointer "{path}"',
        )
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Json, parts: list[str]) -> Json:
    for part in parts:
        if isinstance(doc, list):
            doc = doc[int(part)]
        elif isinstance(doc, dict):
            doc = doc[part]
        else:
            raise KeyError(part)
    return doc


def _json_op(doc: Json, op: dict[str, Any]) -> Json:  # noqa: PLR0912 - one branch per RFC 6902 op
    kind, parts = op.get("op"), _pointer(op.get("path", ""))
    if kind == "test":
        if _walk(doc, parts) != op.get("value"):
            raise ApiError(
                422,
                f"{_REJECTED}: testing value {op.get('path')} failed",
            )
        return doc
    if kind in ("move", "copy"):
        value = copy.deepcopy(_walk(doc, _pointer(op["from"])))
        if kind == "move":
            doc = _json_op(doc, {"op": "remove", "path": op["from"]})
        return _json_op(doc, {"op": "add", "path": op["path"], "value": value})
    if not parts:
        return copy.deepcopy(op.get("value")) if kind in ("add", "replace") else None
    parent, last = _walk(doc, parts[:-1]), parts[-1]
    if kind == "add":
        if isinstance(parent, list):
            parent.insert(len(parent) if last == "-" else int(last), copy.deepcopy(op["value"]))
        else:
            parent[last] = copy.deepcopy(op["value"])
    elif kind == "replace":
        if isinstance(parent, list):
            parent[int(last)] = copy.deepcopy(op["value"])
        else:
            if last not in parent:
                raise KeyError(last)
            parent[last] = copy.deepcopy(op["value"])
    elif kind == "remove":
        if isinstance(parent, list):
            parent.pop(int(last))
        else:
            del parent[last]
    else:
        raise ApiError(
            422,
            f"{_REJECTED}: unexpected kind: {kind}",
        )
    return doc


def json_patch(target: Json, ops: Json) -> Json:
    if not isinstance(ops, list):
        raise ApiError(400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(target)
    for op in ops:
        try:
            doc = _json_op(doc, op)
        except (KeyError, IndexError, ValueError, TypeError) as err:
            raise ApiError(
                422,
                "the server rejected our request due to an error in our request: "
                f'doc is missing path: "{op.get("path")}": {err}',
            ) from err
    return doc


# -- strategic merge patch ---------------------------------------------------------------
def strategic_merge_patch(  # noqa: PLR0912 - one branch per SMP directive
    target: Json, patch: Json, node: schemas.Schema | None
) -> Json:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    patch = dict(patch)
    directive = patch.pop("$patch", None)
    if directive == "replace":
        return _strip_directives(patch)
    if directive == "delete":
        return None
    result: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.pop("$retainKeys", None)
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
        elif key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [v for v in result.get(name) or [] if v not in value]
        elif value is None:
            result.pop(key, None)
        else:
            sub = schemas.field(node, key)
            if isinstance(value, dict):
                merged = strategic_merge_patch(result.get(key), value, sub)
                if merged is None:
                    result.pop(key, None)
                else:
                    result[key] = merged
            elif isinstance(value, list):
                result[key] = _merge_list(result.get(key), value, sub)
            else:
                result[key] = copy.deepcopy(value)
    for name, order in orders.items():
        if isinstance(result.get(name), list):
            result[name] = _reorder(result[name], order, schemas.resolve(schemas.field(node, name)))
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _strip_directives(value: Json) -> Json:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def _list_meta(node: schemas.Schema | None) -> tuple[bool, str | None]:
    if node is None:
        return False, None
    strategy = node.get("x-kubernetes-patch-strategy", "")
    return "merge" in strategy.split(","), node.get("x-kubernetes-patch-merge-key")


def _merge_list(current: Json, patch: list[Any], node: schemas.Schema | None) -> list[Any]:
    merge, key = _list_meta(node)
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [_strip_directives(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    if not merge or not isinstance(current, list):
        return [
            _strip_directives(i)
            for i in patch
            if not (isinstance(i, dict) and i.get("$patch") == "delete")
        ]
    result = copy.deepcopy(current)
    if key is None:
        for item in patch:
            if item not in result:
                result.append(copy.deepcopy(item))
        return result
    element = schemas.items(node)
    for item in patch:
        if not isinstance(item, dict):
            continue
        index = next(
            (
                i
                for i, old in enumerate(result)
                if isinstance(old, dict) and old.get(key) == item.get(key)
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append(_strip_directives(item))
        else:
            result[index] = strategic_merge_patch(result[index], item, element)
    return result


def _reorder(values: list[Any], order: list[Any], node: schemas.Schema | None) -> list[Any]:
    _, key = _list_meta(node)

    def ident(value: Any) -> Any:  # noqa: ANN401 - list elements are any JSON value
        if key is not None and isinstance(value, dict):
            return value.get(key)
        return value

    wanted = [ident(v) for v in order]
    ranked = sorted(
        enumerate(values),
        key=lambda pair: (
            wanted.index(ident(pair[1])) if ident(pair[1]) in wanted else len(wanted),
            pair[0],
        ),
    )
    return [v for _, v in ranked]
