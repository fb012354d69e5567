"""A Kubernetes API stand-in that real kubectl and kubernetes.core cannot tell from k3s's
for the operations the remediation uses (see docs/kubeapi.md for what it does and does not do).
"""

from __future__ import annotations

from .auth import Identity
from .server import ApiServer, ServerConfig
from .transport import Request, Response

__all__ = ["ApiServer", "Identity", "Request", "Response", "ServerConfig"]
