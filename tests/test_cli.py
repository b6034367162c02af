"""The command line as a user runs it: real processes, real files, real engines."""
import csv
import io
import json
import subprocess
import sys

import pytest


def flopbench(*args, cwd=None, timeout=180):
    return subprocess.run([sys.executable, "-m", "flopbench", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def test_demo_writes_counts_and_runs(tmp_path):
    result = flopbench("demo", "-o", tmp_path / "sep_cnn")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for number in ("12,168", "13,520", "25,688", "103,680", "57,600", "161,280", "737,280", "2,560", "926,808"):
        assert number in out
    assert "Time taken to run 10 iterations is:" in out
    assert "Top class:" in out and "precision" in out
    for name in ("sep_cnn.xml", "sep_cnn.bin", "sep_cnn.onnx", "image.npy"):
        assert (tmp_path / "sep_cnn" / name).stat().st_size > 0


def test_flops_table_on_both_formats(sep_cnn_xml, sep_cnn_onnx):
    for path in (sep_cnn_xml, sep_cnn_onnx):
        result = flopbench("flops", path)
        assert result.returncode == 0, result.stderr
        assert "SeparableConv2D" in result.stdout and "926,808" in result.stdout


def test_flops_json_plain_integers(sep_cnn_xml, tmp_path):
    target = tmp_path / "cost.json"
    result = flopbench("flops", sep_cnn_xml, "--format", "json", "-o", target)
    assert result.returncode == 0, result.stderr
    data = json.loads(target.read_text())
    assert data["schema"] == "flopbench/count/1"
    assert data["totals"]["total_flops"] == 926_808
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert [p["flops"] for p in layers["conv1"]["parts"]] == [12_168, 13_520]
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind


def test_flops_csv_by_layer_and_op(sep_cnn_xml):
    result = flopbench("flops", sep_cnn_xml, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    flops = {row["layer"]: int(row["flops"]) for row in rows}
    assert flops["conv2/depthwise"] == 103_680 and flops["fc1"] == 737_280
    by_op = list(csv.DictReader(io.StringIO(flopbench("flops", sep_cnn_xml, "--format", "csv", "--by", "op").stdout)))
    assert {row["type"] for row in by_op} >= {"GroupConvolution", "Convolution", "MatMul", "Softmax"}


def test_flops_markdown(sep_cnn_xml):
    result = flopbench("flops", sep_cnn_xml, "--format", "markdown", "--include-other")
    assert result.returncode == 0
    assert result.stdout.startswith("| Layer |") and "| conv1 | SeparableConv2D |" in result.stdout
    assert "includes" in result.stdout


def test_run_is_the_exercise_task_2(sep_cnn_xml, image_npy):
    result = flopbench("run", sep_cnn_xml, "-i", image_npy, "-niter", "10")
    assert result.returncode == 0, result.stderr
    assert "Time taken to run 10 iterations is:" in result.stdout
    assert "Top class:" in result.stdout


def test_run_without_an_input_file_says_the_input_was_random(sep_cnn_xml, image_npy):
    random = flopbench("run", sep_cnn_xml, "-niter", "1")
    assert random.returncode == 0, random.stderr
    assert "seeded random data (seed 0)" in random.stderr and "-i FILE.npy" in random.stderr
    given = flopbench("run", sep_cnn_xml, "-i", image_npy, "-niter", "1")
    assert given.returncode == 0 and "random" not in given.stderr, given.stderr


def test_run_on_onnxruntime(sep_cnn_onnx, image_npy):
    result = flopbench("run", sep_cnn_onnx, "-i", image_npy, "--engine", "onnxruntime", "-niter", "3")
    assert result.returncode == 0, result.stderr
    assert "onnxruntime" in result.stdout


def test_zoo_lists_and_writes(tmp_path):
    listing = flopbench("zoo")
    assert listing.returncode == 0 and "sep_cnn" in listing.stdout and "mobilenet_v1" in listing.stdout
    written = flopbench("zoo", "std_cnn", "-o", tmp_path)
    assert written.returncode == 0, written.stderr
    assert (tmp_path / "std_cnn.xml").exists() and (tmp_path / "std_cnn.onnx").exists()


@pytest.mark.parametrize("args,needle", [
    (["flops", "missing.xml"], "does not exist"),
    (["flops", "{tmp}"], "is a folder"),
    (["flops", "{sep}", "--format", "yaml"], "unknown format"),
    (["flops", "{sep}", "--shape", "input:1xAx28"], "malformed --shape"),
    (["flops", "{sep}", "--shape", "nope:1x1x28x28"], "does not have"),
    (["run", "{sep}", "-d", "GPU"], "not available"),
    (["bench", "{sep}", "--engine", "tensorflow"], "unknown engine"),
    (["bench", "{sep}", "--engine", "onnxruntime", "-t", "1"], "ONNX files only"),
    (["bench", "{sep}", "-nireq", "0"], "-nireq 0"),
    (["bench", "{sep}", "-t", "0"], "-t 0"),
    (["flops", "{sep}", "-o", "{tmp}/no/such/dir/x.json"], "does not exist"),
    (["nosuchcommand"], "invalid choice"),
])
def test_bad_input_is_one_line_exit_2(args, needle, sep_cnn_xml, tmp_path):
    args = [a.format(tmp=tmp_path, sep=sep_cnn_xml) for a in args]
    result = flopbench(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flopbench: error:"), result.stderr
    assert needle in lines[0]
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = flopbench("--debug", "flops", tmp_path / "missing.onnx")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_outputs_never_overwrite_what_the_command_reads(sep_cnn_xml, image_npy, tmp_path):
    copy = tmp_path / "copy.onnx"
    copy.write_bytes((sep_cnn_xml.parent / "sep_cnn.onnx").read_bytes())
    before = copy.read_bytes()
    for args in (["flops", copy, "-o", copy], ["flops", sep_cnn_xml, "-o", sep_cnn_xml.with_suffix(".bin")],
                 ["bench", sep_cnn_xml, "-i", image_npy, "--json", image_npy, "-t", "0.1"],
                 ["run", sep_cnn_xml, "-i", image_npy, "--json", image_npy]):
        result = flopbench(*args)
        assert result.returncode == 2 and "is an input of this command" in result.stderr, result.stderr
    assert copy.read_bytes() == before
    assert image_npy.read_bytes()[:6] == b"\x93NUMPY"


def test_output_format_follows_the_extension_and_links_are_followed(sep_cnn_xml, tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert flopbench("flops", sep_cnn_xml, "-o", link).returncode == 0
    assert link.is_symlink() and real.read_text().startswith("layer,parent,type")
    assert flopbench("flops", sep_cnn_xml, "-o", tmp_path / "cost.json").returncode == 0
    assert json.loads((tmp_path / "cost.json").read_text())["totals"]["total_flops"] == 926_808


def test_save_latencies_needs_json(sep_cnn_xml):
    result = flopbench("bench", sep_cnn_xml, "--save-latencies", "-t", "0.1")
    assert result.returncode == 2 and "--save-latencies needs --json" in result.stderr


def test_an_engine_that_cannot_run_the_model_fails_before_any_measuring(sep_cnn_onnx):
    # the ONNX file fixes batch 1: OpenVINO reshapes it, ONNX Runtime cannot
    result = flopbench("bench", sep_cnn_onnx, "--engine", "openvino,onnxruntime", "-b", "4", "-t", "30")
    assert result.returncode == 2 and "ONNX Runtime" in result.stderr
    assert "measuring" not in result.stderr and "throughput" not in result.stdout


def test_inputs_comma_separated_and_partial_inputs_warn(tmp_path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"], name="add")], "two",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 4]),
                               helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = tmp_path / "two.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model)
    np.save(tmp_path / "a.npy", np.ones((1, 4), np.float32))
    np.save(tmp_path / "b.npy", np.full((1, 4), 2, np.float32))
    both = flopbench("run", model, "-i", f"a:{tmp_path / 'a.npy'},b:{tmp_path / 'b.npy'}", "-niter", "1")
    assert both.returncode == 0 and "warning" not in both.stderr, both.stderr
    partial = flopbench("run", model, "-i", f"b:{tmp_path / 'b.npy'}", "-niter", "1")
    assert partial.returncode == 0 and "random data" in partial.stderr


FORKED_CHILD = """
import multiprocessing, signal, sys, time
from flopbench.cli.main import _interrupt

# what main() installs for a run; a library forks a helper meanwhile (quantize: NNCF's telemetry
# sender, which its parent terminates when the send takes too long)
signal.signal(signal.SIGTERM, _interrupt)
signal.signal(signal.SIGINT, _interrupt)
helper = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
helper.start()
time.sleep(0.5)
helper.terminate()
helper.join(30)
print(helper.exitcode)
"""


def test_a_helper_process_forked_during_a_run_ends_by_sigterm_without_a_traceback():
    """A forked process inherits main's handler: SIGTERM there was a KeyboardInterrupt with a
    traceback on the command's stderr (seen under `quantize`), not the helper's quiet end."""
    done = subprocess.run([sys.executable, "-c", FORKED_CHILD], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["-15"]  # ended by SIGTERM, as a process without the handler is
    assert done.stderr == ""
