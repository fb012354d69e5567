"""API errors rendered as ``meta/v1`` Status objects, with the apiserver's own wording."""

from __future__ import annotations

from typing import Any

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


class ApiError(Exception):
    """An error the REST layer answers with a Status body."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details

    def status(self) -> dict[str, Any]:
        return status_body(self.code, self.message, self.reason, self.details)


def status_body(
    code: int, message: str, reason: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def success_status(code: int = 200, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}}
    body["status"] = "Success"
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def _details(name: str, group: str, plural: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = plural
    return details


def not_found(key: str, name: str, group: str, plural: str) -> ApiError:
    return ApiError(404, f'{key} "{name}" not found', details=_details(name, group, plural))


def already_exists(key: str, name: str, group: str, plural: str) -> ApiError:
    return ApiError(
        409, f'{key} "{name}" already exists', "AlreadyExists", _details(name, group, plural)
    )


def conflict(key: str, name: str, group: str, plural: str) -> ApiError:
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {key} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        "Conflict",
        _details(name, group, plural),
    )


def invalid(kind: str, name: str, group: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 as the apiserver words it; causes are (reason type, field path, message)."""
    text = "; ".join(f"{fld}: {msg}" for _, fld, msg in causes)
    qualified = f"{kind}.{group}" if group else kind
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [{"reason": typ, "message": msg, "field": fld} for typ, fld, msg in causes]
    return ApiError(422, f'{qualified} "{name}" is invalid: {text}', "Invalid", details)
