"""Every Molecule scenario under molecule/ runs its full test sequence.

Each scenario's sequence includes check (check mode on the fresh node) and idempotence,
so a role that changes things in check mode or on its second run fails here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import ROOT, explain, project_env, run, tool

SCENARIOS = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))


@pytest.mark.podman
@pytest.mark.molecule
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario: str, tmp_path: Path) -> None:
    # Molecule keys its state (~/.ansible/tmp/molecule.<hash of the checkout's basename>)
    # on the directory's name only, so two checkouts named alike share it, and a stale
    # "prepared: true" skips prepare. Each run gets its own, fresh state in this checkout.
    state = ROOT / ".cache" / "molecule" / scenario
    shutil.rmtree(state, ignore_errors=True)
    env = project_env(MOLECULE_EPHEMERAL_DIRECTORY=str(state))
    result = run([tool("molecule"), "test", "-s", scenario], env=env, timeout=1800)
    log = tmp_path / "molecule.log"
    log.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, explain(result, limit=12000)
