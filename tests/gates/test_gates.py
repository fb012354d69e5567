"""The lint and build gates of `make test`: each one fails the run when it fails.

ansible-lint (production profile), yamllint, ruff (lint and format), a syntax check of
every playbook, the collection build and `ansible-doc` of every module.
"""

from __future__ import annotations

import ast
import json
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, explain, run, tool

NOT_PLAYBOOKS = {"galaxy.yml", "requirements.yml"}
PLAYBOOKS = sorted(
    [
        *(ROOT / "playbooks").glob("*.yml"),
        *(p for p in ROOT.glob("*.yml") if p.name not in NOT_PLAYBOOKS),
    ]
)
MODULES = sorted(
    p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__"
)


def test_ansible_lint_production_profile() -> None:
    result = run([tool("ansible-lint"), "--profile", "production", "--offline", "-q"])
    assert result.returncode == 0, explain(result)


def test_yamllint() -> None:
    result = run([tool("yamllint"), "--strict", "."])
    assert result.returncode == 0, explain(result)


def test_ruff_lint() -> None:
    result = run([tool("ruff"), "check", "."])
    assert result.returncode == 0, explain(result)


def test_ruff_format() -> None:
    result = run([tool("ruff"), "format", "--check", "--diff", "."])
    assert result.returncode == 0, explain(result)


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_playbook_syntax(playbook: Path) -> None:
    result = run([tool("ansible-playbook"), "--syntax-check", str(playbook)])
    assert result.returncode == 0, explain(result)


def test_collection_builds_and_installs(tmp_path: Path) -> None:
    build = run(
        [tool("ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), "."]
    )
    assert build.returncode == 0, explain(build)
    artifacts = list(tmp_path.glob("remedy-k3s-*.tar.gz"))
    assert len(artifacts) == 1, build.stdout
    with tarfile.open(artifacts[0]) as tar:
        names = set(tar.getnames())
    assert "MANIFEST.json" in names
    assert not any(n.startswith((".venv", ".cache", "lab/")) for n in names)
    for module in MODULES:
        assert f"plugins/modules/{module}.py" in names

    install = run(
        [
            tool("ansible-galaxy"),
            "collection",
            "install",
            "--offline",
            "--no-deps",
            "--force",
            "-p",
            str(tmp_path / "installed"),
            str(artifacts[0]),
        ]
    )
    assert install.returncode == 0, explain(install)
    assert (tmp_path / "installed/ansible_collections/remedy/k3s/galaxy.yml").exists() or (
        tmp_path / "installed/ansible_collections/remedy/k3s/MANIFEST.json"
    ).exists()


def module_doc_errors(collection_root: Path) -> list[str]:
    """Problems in the DOCUMENTATION/EXAMPLES/RETURN blocks of a collection's modules."""
    errors: list[str] = []
    for path in sorted((collection_root / "plugins" / "modules").glob("*.py")):
        source = path.read_text()
        try:
            blocks = _doc_blocks(source)
        except SyntaxError as exc:
            errors.append(f"{path.name}: does not compile: {exc}")
            continue
        for block in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
            text = blocks.get(block)
            if not isinstance(text, str) or not text.strip():
                errors.append(f"{path.name}: {block} is missing or empty")
                continue
            try:
                parsed = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                errors.append(f"{path.name}: {block} is not valid YAML: {exc}")
                continue
            if block == "RETURN" and isinstance(parsed, dict):
                errors.extend(_return_errors(path.name, parsed))
        if "supports_check_mode=True" not in source:
            errors.append(f"{path.name}: AnsibleModule is not built with supports_check_mode=True")
    return errors


def _doc_blocks(source: str) -> dict[str, str]:
    """The module's top-level DOCUMENTATION/EXAMPLES/RETURN string assignments."""
    blocks = {}
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            blocks[node.targets[0].id] = node.value.value
    return blocks


def _return_errors(name: str, returns: dict[str, dict[str, object]]) -> list[str]:
    errors = []
    for key, spec in returns.items():
        missing = [field for field in ("description", "returned", "type") if field not in spec]
        if missing:
            errors.append(f"{name}: RETURN.{key} lacks {', '.join(missing)}")
        if "sample" not in spec and spec.get("type") not in {"dict", "list", "complex"}:
            errors.append(f"{name}: RETURN.{key} has no sample")
    return errors


def test_module_docs_are_complete() -> None:
    assert MODULES, "the collection ships no modules"
    assert module_doc_errors(ROOT) == []


def test_module_doc_gate_catches_a_broken_module(tmp_path: Path) -> None:
    """The gate is real: a module with broken docs and no check mode is reported."""
    modules = tmp_path / "plugins" / "modules"
    modules.mkdir(parents=True)
    shutil.copy(ROOT / "plugins" / "modules" / f"{MODULES[0]}.py", modules / "good.py")
    (modules / "broken.py").write_text(
        'DOCUMENTATION = """\nmodule: broken\n  options: [\n"""\nEXAMPLES = ""\n'
        "RETURN = '''\nthing:\n  type: str\n'''\n"
    )
    errors = module_doc_errors(tmp_path)
    assert any("broken.py: DOCUMENTATION is not valid YAML" in e for e in errors), errors
    assert any("broken.py: EXAMPLES is missing" in e for e in errors), errors
    assert any("broken.py: RETURN.thing lacks description, returned" in e for e in errors), errors
    assert any("broken.py: AnsibleModule is not built" in e for e in errors), errors
    assert not any(e.startswith("good.py") for e in errors), errors


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders(module: str) -> None:
    result = run([tool("ansible-doc"), "--json", f"remedy.k3s.{module}"])
    assert result.returncode == 0, explain(result)
    doc = json.loads(result.stdout)[f"remedy.k3s.{module}"]
    assert doc["doc"]["short_description"]
    assert doc["doc"].get("options"), f"{module} documents no options"
    assert doc["examples"].strip()
    assert doc["return"], f"{module} documents no return values"


def test_ansible_doc_lists_every_module() -> None:
    result = run([tool("ansible-doc"), "-l", "remedy.k3s"])
    assert result.returncode == 0, explain(result)
    for module in MODULES:
        assert f"remedy.k3s.{module}" in result.stdout
