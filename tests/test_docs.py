"""The README and the docs site (MkDocs, `docs/`) stay in step with the code and with CI: the site
builds with --strict, every command they show runs, the README stays a landing page."""
import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flopbench.counting.formulas import FORMULAS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]

# a block the tests do not run says why on the line before its fence
NOT_RUN = re.compile(r"<!-- not run by the tests: (.+?) -->")
MAX_BLOCKS_NOT_RUN = 10


def quick_start_commands():
    section = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
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
    counting = (DOCS / "counting.md").read_text()
    missing = [op for op in FORMULAS if f"`{op}`" not in counting]
    assert not missing, f"document these op types in docs/counting.md: {missing}"


def test_readme_is_a_landing_page():
    lines = README.read_text().splitlines()
    assert len(lines) < 300, f"the README has {len(lines)} lines: move the detail to a page under docs/"


def test_readme_links_point_to_files_that_exist():
    targets = re.findall(r"\]\(([^)\s]+)\)", README.read_text())
    local = [t.split("#", 1)[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]
    assert any(t.startswith("docs/") for t in local), "the README links to no docs page"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"the README links to files that do not exist: {missing}"


def test_every_command_has_its_page_in_the_site():
    from flopbench.cli.main import COMMANDS

    nav = (ROOT / "mkdocs.yml").read_text()
    missing = [name for name in COMMANDS if not (DOCS / f"{name}.md").exists() or f" {name}.md" not in nav]
    assert not missing, f"give these commands a page under docs/ and a place in mkdocs.yml's nav: {missing}"


def test_the_docs_build_strict(tmp_path):
    site = tmp_path / "site"
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
                            "--site-dir", str(site)], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert built.returncode == 0, built.stdout + built.stderr
    pages = [p for p in DOCS.glob("*.md")]
    unbuilt = [p.name for p in pages if not (site / ("index.html" if p.stem == "index" else f"{p.stem}/index.html")).exists()]
    assert not unbuilt, f"pages not in the built site: {unbuilt}"
    assert "601,548,544" in (site / "flops" / "index.html").read_text()  # a transcript survives the build


# ---- every command the pages show is run -------------------------------------------------------

def fenced_blocks(page: Path):
    """(language, lines, reason it is not run or None, line number) of every fenced block."""
    lines = page.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = re.match(r"^```(\w*)", lines[index])
        if not opening:
            index += 1
            continue
        end = index + 1
        while not lines[end].startswith("```"):
            end += 1
        before = next((line for line in reversed(lines[:index]) if line.strip()), "")
        reason = NOT_RUN.search(before)
        yield opening.group(1), lines[index + 1:end], reason.group(1) if reason else None, index + 1
        index = end + 1


def shown_commands(page: Path):
    """Every `flopbench ...` command a bash block shows (a line, or a part of one between `&&`, `;`
    or `|`) or a console block shows after `$ `, in the page's order, with the block's line."""
    for language, body, reason, line in fenced_blocks(page):
        if reason or language not in ("bash", "console"):
            continue
        typed = body if language == "bash" else [text[2:] for text in body if text.startswith("$ ")]
        for text in typed:
            for part in re.split(r"&&|;|\|", text.split(" #", 1)[0]):
                if part.strip().startswith("flopbench "):
                    yield shlex.split(part)[1:], line, body


QUICK_VALUES = {"-t": "0.3", "-niter": "5", "--profile-niter": "5", "--profile-iterations": "5", "--samples": "3"}


def quickly(argv: list[str]) -> list[str]:
    """The same command with its measuring shortened: -t, -niter and the profiles' iterations capped,
    one warm-up run, `machine` and `predict --calibrate` quick (the test session's cached roofline), quantize calibrated on 3 samples."""
    argv = list(argv)
    for index, word in enumerate(argv[:-1]):
        if word in QUICK_VALUES and (word != "-niter" or int(argv[index + 1]) > 5):
            argv[index + 1] = QUICK_VALUES[word]
    measures = argv[0] in ("bench", "compare", "report") and not any(a.endswith(".json") for a in argv[1:2])
    if measures and "-t" not in argv and "-niter" not in argv:
        argv += ["-t", QUICK_VALUES["-t"]]
    if (measures or argv[0] == "profile") and "--warmup" not in argv:
        argv += ["--warmup", "1"]
    if argv[0] == "report" and "--profile-niter" not in argv:
        argv += ["--profile-niter", QUICK_VALUES["--profile-niter"]]
    if argv[0] == "machine":
        argv = [a for a in argv if a != "--remeasure"] + ["--quick"]
    if argv[0] == "predict" and "--calibrate" in argv and "--quick" not in argv:
        argv += ["--quick"]
    if argv[0] == "quantize" and "--samples" not in argv:
        argv += ["--samples", QUICK_VALUES["--samples"]]
    return argv


@pytest.fixture(scope="session")
def docs_workspace(tmp_path_factory, zoo_dir, roofline_cache):
    """One folder holding the files the pages use, as `flopbench demo` and `flopbench zoo` write
    them; the pages' commands run in it, in order, page after page."""
    from flopbench.zoo import write_zoo_model

    folder = tmp_path_factory.mktemp("docs-workspace")
    (folder / "sep_cnn").mkdir()
    for name in ("sep_cnn.xml", "sep_cnn.bin", "sep_cnn.onnx", "image.npy"):  # copies: `demo` rewrites them
        shutil.copyfile(zoo_dir / name, folder / "sep_cnn" / name)
        shutil.copyfile(zoo_dir / name, folder / name)
    write_zoo_model("mobilenet_v2", folder, fmt="onnx")
    (folder / "model.onnx").symlink_to(folder / "mobilenet_v2.onnx")
    write_zoo_model("mobilenet_v1", folder, fmt="ir")
    (folder / "zoo").mkdir()
    write_zoo_model("mobilenet_v1", folder / "zoo", fmt="onnx")
    write_zoo_model("conv_mobilenet_v1", folder / "zoo", fmt="onnx")
    return folder


class CommandRunner:
    """Runs a command line in the workspace through the CLI's `main` in this process (the engines
    are imported once for all of them), once per distinct line: pages repeat the README's examples."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.done: dict[tuple, tuple[int, str, str]] = {}

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        key = tuple(argv)
        if key not in self.done:
            from flopbench.cli import main

            out, err = io.StringIO(), io.StringIO()
            here = Path.cwd()
            os.chdir(self.folder)
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    code = main(quickly(argv))
            finally:
                os.chdir(here)
            self.done[key] = (code, out.getvalue(), err.getvalue())
        return self.done[key]


@pytest.fixture(scope="session")
def run_shown(docs_workspace):
    return CommandRunner(docs_workspace)


def needs_missing_litert(argv: list[str]) -> bool:
    """A command on .tflite files or LiteRT, where the `litert` extra is not installed: its tests skip
    with a reason, and so do its pages' commands."""
    import importlib.util

    installed = all(importlib.util.find_spec(name) for name in ("ai_edge_litert", "tflite", "flatbuffers"))
    return not installed and any("litert" in word or "tflite" in word for word in argv)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_command_a_page_shows_runs(page, run_shown):
    commands = list(shown_commands(page))
    if commands and all(needs_missing_litert(argv) for argv, _, _ in commands):
        pytest.skip("LiteRT is not installed: pip install '.[litert]' runs this page's commands")
    for argv, line, block in commands:
        if needs_missing_litert(argv):
            continue
        code, out, err = run_shown(argv)
        where = f"{page.name}:{line}: flopbench {shlex.join(argv)}"
        assert code == 0, f"{where} exited {code}:\n{err[-2000:]}"
        if argv[0] == "flops":
            # the totals a transcript shows are what the command prints now
            shown = [text for text in block if text.startswith("Total: ")]
            for total in shown:
                assert total in out.splitlines(), f"{where} no longer prints {total!r}:\n{out[-1500:]}"


def test_transcripts_are_console_blocks_and_few_are_not_run():
    """A `$ flopbench` transcript in a block of another language would escape the run above, and
    every block left out says why."""
    not_run, misfiled = [], []
    for page in PAGES:
        for language, body, reason, line in fenced_blocks(page):
            if reason:
                not_run.append(f"{page.name}:{line}: {reason}")
            elif language not in ("bash", "console") and any(text.startswith("$ flopbench") for text in body):
                misfiled.append(f"{page.name}:{line}")
    assert not misfiled, f"make these ```console blocks so their commands are run: {misfiled}"
    assert len(not_run) <= MAX_BLOCKS_NOT_RUN, "\n".join(not_run)
    shown = [argv[0] for page in PAGES for argv, _, _ in shown_commands(page)]
    assert len(shown) >= 35 and {"flops", "bench", "profile", "report", "compare", "convert", "zoo"} <= set(shown), shown


def test_the_python_the_pages_show_names_what_exists():
    """Every python block parses, every `from flopbench... import name` imports, and every
    `flopbench.name` it calls exists, so a renamed function cannot leave the docs behind."""
    import ast
    import importlib

    import flopbench

    wrong = []
    for page in PAGES:
        for language, body, _, line in fenced_blocks(page):
            if language != "python":
                continue
            where = f"{page.name}:{line}"
            tree = ast.parse("\n".join(body), filename=where)
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("flopbench"):
                    module = importlib.import_module(node.module)
                    wrong += [f"{where}: {node.module}.{a.name}" for a in node.names if not hasattr(module, a.name)]
                elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "flopbench":
                    if not hasattr(flopbench, node.attr):
                        wrong.append(f"{where}: flopbench.{node.attr}")
    assert not wrong, f"the docs name what flopbench does not have: {wrong}"


# ---- the README's test command passes on a machine without Debian's chromium ------------------

BROWSER_TEST = """
def test_a_page_in_the_browser(browser):
    pass
"""
UNDER_CI = """
import os

import pytest


@pytest.fixture(scope="module", autouse=True)
def under_ci():  # what .ci/run sets; an autouse fixture is set up before the browser of its scope
    os.environ["FLOPBENCH_REQUIRE_BROWSER"] = "1"
    yield
    del os.environ["FLOPBENCH_REQUIRE_BROWSER"]
"""


def test_browser_tests_skip_without_chromium_and_fail_under_ci(tmp_path):
    """On a machine without chromium (none on PATH here) a test that opens a page is skipped with
    how to install it; with FLOPBENCH_REQUIRE_BROWSER=1, as .ci/run sets, it errors (exit 1)."""
    (tmp_path / "test_fresh_machine.py").write_text(BROWSER_TEST)
    (tmp_path / "test_under_ci.py").write_text(UNDER_CI + BROWSER_TEST)
    env = {key: value for key, value in os.environ.items() if key != "FLOPBENCH_REQUIRE_BROWSER"}
    env.update(PATH=str(tmp_path), PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), env.get("PYTHONPATH", "")]))
    ran = subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-rsE", "-p", "no:cacheprovider",
                          "--rootdir", str(tmp_path), "test_fresh_machine.py", "test_under_ci.py"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    report = ran.stdout + ran.stderr
    assert "1 skipped, 1 error" in report, report
    assert re.search(r"SKIPPED .*test_fresh_machine.py.*apt-get install chromium", report), report
    assert "ERROR test_under_ci.py::test_a_page_in_the_browser" in report, report
    assert re.search(r"ERROR at setup of .*\n.*apt-get install chromium.*FLOPBENCH_REQUIRE_BROWSER=1", report), report
    assert ran.returncode == 1
