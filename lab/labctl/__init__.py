"""Host-side orchestration of the incident lab: podman nodes, breakers, status.

Runs on the controller with the project's venv; the node-side k3s stand-in lives in
``k3s_standin`` and is copied into every node at ``up``.
"""
