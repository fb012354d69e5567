"""Every role meets the project's bar: argument specs, prefixed variables, a README
generated from the specs, and a Molecule scenario of its own."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, explain, run

ROLES = (
    sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
    if (ROOT / "roles").is_dir()
    else []
)


def test_role_readmes_match_argument_specs() -> None:
    result = run([str(ROOT / "scripts" / "role-docs"), "--check"])
    assert result.returncode == 0, explain(result)


@pytest.mark.parametrize("role", ROLES)
def test_role_layout(role: str) -> None:
    path = ROOT / "roles" / role
    for required in ("meta/argument_specs.yml", "meta/main.yml", "README.md", "tasks/main.yml"):
        assert (path / required).is_file(), f"roles/{role}/{required} is missing"
    specs = yaml.safe_load((path / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"].get("options", {})
    defaults_file = path / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}
    for name in [*options, *(defaults or {})]:
        assert name.startswith(f"{role}_"), f"roles/{role}: variable {name} lacks the role prefix"
    for name, value in (defaults or {}).items():
        assert name in options, f"roles/{role}: default {name} is not in argument_specs.yml"
        assert options[name].get("description"), f"roles/{role}: {name} has no description"
        assert options[name].get("default") == value, (
            f"roles/{role}: {name} defaults differ between defaults/main.yml and argument_specs.yml"
        )


@pytest.mark.parametrize("role", ROLES)
def test_role_has_a_molecule_scenario(role: str) -> None:
    scenarios = [p.parent for p in (ROOT / "molecule").glob("*/molecule.yml")]
    mentioned = [s for s in scenarios if any(role in f.read_text() for f in Path(s).glob("*.yml"))]
    assert mentioned, f"no Molecule scenario under molecule/ uses role {role}"
