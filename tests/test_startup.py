"""What `flopbench flops MODEL` loads between the process start and the count, and that the
table it writes to a pipe without rich is the one rich draws (issue 18's whole-process speed;
the speed itself is measured by benchmarks/count_vs_peers.py, never timed here)."""
import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

import flopbench
from flopbench.cli.main import COMMANDS, build_parser
from flopbench.counting.memory import fit
from flopbench.render.cost import to_table
from flopbench.render.text import ONE_CELL_CHARACTERS, TableColumn, TableRow, TextTable, render_text

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"

# what a count through the CLI does not need: other engines and their tools, plots, schemas,
# the cluster, torch, quantization, rich (the output is a pipe here), OpenVINO's conversion API
# and its telemetry, and the other commands' modules
NOT_NEEDED = ("rich", "onnxruntime", "matplotlib", "jsonschema", "ray", "torch", "nncf", "onnx", "openvino.tools.ovc",
              "openvino_telemetry", "importlib.metadata", "flopbench.measure", "flopbench.profiling", "flopbench.zoo",
              "flopbench.study", "flopbench.fleet", "flopbench.quantize",
              *(f"flopbench.cli.{name}" for name in COMMANDS if name != "flops"))

CHILD = """
import contextlib, io, json, sys
from flopbench.cli.main import main

out = io.StringIO()  # not a terminal, as a pipe is not
with contextlib.redirect_stdout(out):
    code = main(["flops", sys.argv[1]])
loaded = sorted(m for m in sys.modules if any(m == n or m.startswith(n + ".") for n in json.loads(sys.argv[2])))
report = {"code": code, "output": out.getvalue(), "loaded": loaded, "openvino": "openvino" in sys.modules}
import openvino
report["convert_model"] = openvino.convert_model(sys.argv[1]).get_friendly_name() is not None
report["ovc_after"] = "openvino.tools.ovc" in sys.modules
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def flops_child(sep_cnn_onnx):
    """One `flopbench flops sep_cnn.onnx` run in a fresh interpreter, with what it imported (a model
    whose nodes all have names: OpenVINO numbers unnamed ones per process, so another process's
    count of light_resnet50 names its Reshape differently)."""
    model = sep_cnn_onnx
    proc = subprocess.run([sys.executable, "-c", CHILD, str(model), json.dumps(NOT_NEEDED)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return model, json.loads(proc.stdout.splitlines()[-1])


def test_a_count_from_the_cli_imports_nothing_it_does_not_need(flops_child):
    model, report = flops_child
    assert report["code"] == 0 and report["openvino"]  # the count ran, and read the file through OpenVINO
    assert f"Total: {flopbench.count(model).total_flops:,} FLOPs" in report["output"]
    assert report["loaded"] == []


def test_a_count_written_to_a_file_imports_no_rich_either(sep_cnn_onnx, tmp_path):
    out = tmp_path / "cost.json"
    code = ("import json, sys\nfrom flopbench.cli.main import main\n"
            f"assert main(['flops', {str(sep_cnn_onnx)!r}, '-o', {str(out)!r}]) == 0\n"
            "print(json.dumps('rich' in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) is False
    assert proc.stderr == f"wrote {out}\n"
    assert json.loads(out.read_text())["totals"]["total_flops"] == flopbench.count(sep_cnn_onnx).total_flops


def test_openvino_convert_model_still_works_after_a_count(flops_child):
    """The conversion API is deferred, not removed: openvino.convert_model imports it on first use."""
    _, report = flops_child
    assert report["convert_model"] and report["ovc_after"]


def test_the_cli_writes_to_a_pipe_the_table_rich_draws(flops_child):
    model, report = flops_child
    assert report["output"] == render_text(to_table(flopbench.count(model)).rich())


@pytest.mark.parametrize("name", ["light_resnet50", "light_squeezenet", "light_inception_v1", "light_densenet121"])
def test_the_plain_table_is_rich_s_to_the_character(name):
    """The layer table (parts, a wrapped title), with memory columns and a budget, and the op view,
    against rich's own rendering at the width of a pipe and a file, or, for a table wider than
    that, at a width with room for every column."""
    cost = flopbench.count(LIGHT / f"{name}.onnx")
    budget = fit(cost.weight_bytes, cost.peak_activation_bytes, 10**6)
    for table in (to_table(cost), to_table(cost, memory=True), to_table(cost, budget=budget), to_table(cost, view="op")):
        plain = table.plain(160)
        assert plain is not None
        table_width = len(plain.splitlines()[-1 - len(table.notes.splitlines())])  # the bottom rule
        assert plain == render_text(table.rich(), max(160, table_width))


def test_a_table_wider_than_the_page_keeps_every_cell_whole():
    """rich squeezes a table wider than its page, folding shapes and cropping numbers ("10,838,0…");
    a pipe or a file gets it at its own width."""
    cells = ("/features/features.1/conv/conv.0/conv.0.0/Conv" + "x" * 90, "1x32x112x112", "10,838,016")
    table = TextTable("t", (TableColumn("Layer", no_wrap=True), TableColumn("Output"), TableColumn("MACs", right=True)),
                      (TableRow(cells),), "notes")
    plain = table.plain(160)
    row = next(line for line in plain.splitlines() if line.startswith("│"))
    assert row == "│ " + " │ ".join(cells) + " │" and len(row) > 160
    assert all(cell in plain for cell in cells)
    # rich alone would crop the number to "10,838,0…" at the pipe's 160 columns; a number column keeps its room
    assert "10,838,016" in render_text(table.rich(), 160)


def test_the_plain_table_wraps_and_folds_as_rich_does():
    long_word = "/very/long/folder/" * 9 + "model.onnx"
    for title in (long_word + "  (onnx, input x 1x3x224x224)", "short title", "a " * 70 + long_word, ""):
        notes = ("Total: 1,234 FLOPs " * 12).strip() + "\n" + "x" * 170 + " end\nFLOPs = 2 × MACs — short… └ ok\n\nlast"
        table = TextTable(title, (TableColumn("Layer", no_wrap=True), TableColumn("Type"), TableColumn("MACs", right=True)),
                          (TableRow(("conv1", "Conv2D", "1,000")), TableRow(("  └ conv1/dw", "DepthwiseConv2D", "12"), "dim", True),
                           TableRow(("Total", "", "1,012"), "bold")), notes)
        for width in (160, 120, 60):
            assert table.plain(width) == render_text(table.rich(), width), (title, width)


def test_a_table_only_rich_can_lay_out_goes_through_rich():
    """Markup-like cells and characters of another width."""
    cases = [("[bold]x[/bold]", "y"), ("a:smile:b", "y"), ("名前", "y"), ("tab\there", "y")]
    for cells in cases:
        table = TextTable("t", (TableColumn("A"), TableColumn("B")), (TableRow(cells),), "notes")
        assert table.plain(160) is None
        assert render_text(table) == render_text(table.rich())  # render_text falls back to rich


def test_the_characters_taken_as_one_cell_are_one_cell_for_rich():
    from rich.cells import cell_len

    assert all(cell_len(ch) == 1 for ch in ONE_CELL_CHARACTERS)


def test_a_command_s_parser_alone_parses_as_the_whole_tree_does(tmp_path):
    argv = ["flops", "model.onnx", "-b", "2", "--by", "op", "--memory-budget", "64MB", "-o", str(tmp_path / "x.json")]
    alone, whole = build_parser(argv), build_parser()
    assert vars(alone.parse_args(argv)) == vars(whole.parse_args(argv))
    assert set(alone._subparsers._group_actions[0].choices) == {"flops"}
    assert set(whole._subparsers._group_actions[0].choices) == set(COMMANDS)
