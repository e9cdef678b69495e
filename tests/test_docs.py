"""Docs that cannot drift: the CLI reference is the commands' own help, and the README opens with
the two commands CI and newcomers run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_current() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "cli_reference.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", readme, flags=re.DOTALL)
    first, second = blocks[0].strip(), blocks[1].strip()
    assert readme.index(blocks[0]) < readme.index("## ")  # before any other section
    assert "rag ask" in first and "pip install torch==2.13.0" in first
    assert "pytest" in second and "pip install torch==2.13.0" in second
    ci = (ROOT / ".ci" / "run").read_text()
    for step in ("pip install torch==2.13.0", "pip install -e '.[test]'", "python -m pytest -q"):
        assert step in second and step in ci
