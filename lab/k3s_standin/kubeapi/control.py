"""The lab's test-only control surface (``/lab/...``) and the state it changes."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .auth import MASTERS
from .clock import Clock
from .errors import ApiError
from .transport import Request, Response


@dataclass
class Fault:
    """Answer the next ``count`` requests whose path matches ``path`` (a regex) with ``status``."""

    path: str
    status: int
    count: int
    method: str = ""
    message: str = "injected fault"


class LabState:
    """Nodes whose kubelet heartbeat is stopped, and pending injected faults (kept in lab.json)."""

    def __init__(self, state_file: Path | None) -> None:
        self._file = state_file
        self._lock = threading.Lock()
        self.stopped: set[str] = set()
        self.faults: list[Fault] = []
        if state_file is not None and state_file.exists():
            data = json.loads(state_file.read_text())
            self.stopped = set(data.get("heartbeat_stopped", []))
            self.faults = [Fault(**f) for f in data.get("faults", [])]

    def _save(self) -> None:
        if self._file is None:
            return
        data = {
            "heartbeat_stopped": sorted(self.stopped),
            "faults": [f.__dict__ for f in self.faults],
        }
        tmp = self._file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self._file)

    def heartbeat_stopped(self, node: str) -> bool:
        with self._lock:
            return node in self.stopped

    def set_heartbeat(self, node: str, stopped: bool) -> None:
        with self._lock:
            if stopped:
                self.stopped.add(node)
            else:
                self.stopped.discard(node)
            self._save()

    def add_fault(self, fault: Fault) -> None:
        re.compile(fault.path)
        with self._lock:
            self.faults.append(fault)
            self._save()

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()
            self._save()

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if re.search(fault.path, path) and fault.method in ("", method):
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                    self._save()
                    return fault
        return None


def _json(status: int, body: Any) -> Response:  # noqa: ANN401
    return Response(status, json.dumps(body).encode() + b"\n")


def handle(req: Request, lab: LabState, clock: Clock) -> Response:
    """``POST /lab/clock``, ``POST /lab/nodes/<name>/heartbeat``, ``POST|DELETE /lab/faults``."""
    if req.user is None or MASTERS not in req.user.groups:
        raise ApiError(
            403,
            f'User "{req.user.user if req.user else "system:anonymous"}" cannot use the lab '
            "control surface: it needs a client certificate with O=system:masters",
            "Forbidden",
        )
    body = json.loads(req.body or b"{}")
    parts = [p for p in req.path.split("/") if p][1:]
    if parts == ["clock"] and req.method == "GET":
        return _json(200, {"now": clock.now().isoformat(), "offset_seconds": clock.offset})
    if parts == ["clock"] and req.method == "POST":
        clock.advance(float(body.get("advance_seconds", 0)))
        return _json(200, {"now": clock.now().isoformat(), "offset_seconds": clock.offset})
    if len(parts) == 3 and parts[0] == "nodes" and parts[2] == "heartbeat" and req.method == "POST":
        lab.set_heartbeat(parts[1], bool(body.get("stopped", True)))
        return _json(200, {"node": parts[1], "stopped": lab.heartbeat_stopped(parts[1])})
    if parts == ["faults"] and req.method == "POST":
        try:
            fault = Fault(
                path=str(body["path"]),
                status=int(body.get("status", 500)),
                count=int(body.get("count", 1)),
                method=str(body.get("method", "")),
                message=str(body.get("message", "injected fault")),
            )
            lab.add_fault(fault)
        except (KeyError, ValueError, re.error) as err:
            raise ApiError(
                400,
                f'bad fault {body}: {err}; send {{"path": REGEX, "status": N, '
                '"count": N, "method": ""}',
            ) from err
        return _json(201, fault.__dict__)
    if parts == ["faults"] and req.method == "DELETE":
        lab.clear_faults()
        return _json(200, {"faults": []})
    raise ApiError(404, f"no lab control at {req.method} {req.path}")
