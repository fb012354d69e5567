"""Small helpers shared by the test suites: where things are and how to run them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """Path of a command from the project venv, falling back to PATH."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed; run scripts/setup")
    return found


def project_env(**extra: str) -> dict[str, str]:
    """The environment scripts/env.sh gives every project command."""
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "CONTAINERS_CONF": str(ROOT / ".cache" / "containers" / "containers.conf"),
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            "ANSIBLE_NOCOLOR": "1",
            "PY_COLORS": "0",
        }
    )
    env.update(extra)
    return env


def run(
    args: list[str],
    *,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output (never raising on a non-zero exit)."""
    return subprocess.run(
        args,
        cwd=cwd,
        env=env or project_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def explain(result: subprocess.CompletedProcess[str], limit: int = 6000) -> str:
    """The end of a failed command's output, for an assertion message."""
    text = (result.stdout or "") + (result.stderr or "")
    return f"exit {result.returncode}: {' '.join(result.args)}\n{text[-limit:]}"
