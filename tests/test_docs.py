"""The README stays in step with the code and with CI."""
import re
from pathlib import Path

from flopbench.counting.formulas import FORMULAS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def quick_start_commands():
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_quick_start_has_exactly_two_commands():
    commands = quick_start_commands()
    assert len(commands) == 2
    assert "flopbench demo" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    assert quick_start_commands()[1] in (ROOT / ".ci" / "run").read_text().splitlines()


def test_every_formula_is_documented():
    missing = [op for op in FORMULAS if f"`{op}`" not in README]
    assert not missing, f"document these op types in the README: {missing}"
