"""Make this checkout importable the way Ansible and the lab import it.

* ``ansible_collections.remedy.k3s`` resolves to the repository root through the
  symlink ``.cache/collections/ansible_collections/remedy/k3s`` (scripts/setup makes it
  too; pytest makes it here so that a bare ``pytest`` works on a fresh clone).
* ``k3s_standin`` (the incident lab's k3s stand-in) lives under ``lab/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
COLLECTIONS = ROOT / ".cache" / "collections"


def _ensure_collection_link() -> None:
    link = COLLECTIONS / "ansible_collections" / "remedy" / "k3s"
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(ROOT, target_is_directory=True)


_ensure_collection_link()
for path in (str(COLLECTIONS), str(ROOT / "lab")):
    if path not in sys.path:
        sys.path.insert(0, path)
