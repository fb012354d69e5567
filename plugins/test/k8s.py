# Copyright: remedy.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja tests about Kubernetes objects: remedy.k3s.node_ready, control_plane_node,
schedulable_node and tolerates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.remedy.k3s.plugins.module_utils.k8s_objects import (
    control_plane_node,
    node_ready,
    owned_by,
    schedulable_node,
    tolerates,
)

DOCUMENTATION = r"""
name: k8s
short_description: Tests about Kubernetes Nodes and tolerations
description:
  - C(node_ready) - the Node's Ready condition is True.
  - C(control_plane_node) - the Node carries k3s's server label
    node-role.kubernetes.io/control-plane=true.
  - C(schedulable_node) - the Node is not cordoned and has no NoSchedule or NoExecute taint.
  - C(tolerates(taint)) - a list of pod tolerations tolerates the taint ({key, value, effect}).
  - C(owned_by(kind)) - one of the object's ownerReferences is of that kind.
author: remedy.k3s maintainers
"""


class TestModule:
    """Ansible's entry point for the collection's Jinja tests."""

    def tests(self) -> dict[str, Callable[..., Any]]:
        return {
            "node_ready": node_ready,
            "control_plane_node": control_plane_node,
            "schedulable_node": schedulable_node,
            "tolerates": tolerates,
            "owned_by": owned_by,
        }
