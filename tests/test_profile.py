"""`flopbench profile` on real engines and real models: every layer of `flopbench flops` timed,
the times reconciled with the same run's end-to-end latency, rates checked against the counts."""
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import onnx
import pytest

import flopbench
from flopbench.profiling.profile import ABOVE_ROOF, ProfileResult, profile
from flopbench.results.schema import validate

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def _rows(result: ProfileResult):
    for row in result.layers:
        yield row
        yield from row.parts


def check_profile(result: ProfileResult, model) -> None:
    """What every profile must satisfy, whatever the model and engine."""
    cost = flopbench.count(model, shape=None)
    # exactly the layers of `flopbench flops`, by name (the same on every read), parts included,
    # and every counted op joined
    assert [(row.name, row.type) for row in result.layers] == [(layer.name, layer.type) for layer in cost.layers]
    for row, layer in zip(result.layers, cost.layers):
        assert [p.name for p in row.parts] == [p.name for p in layer.parts]
        assert row.flops == layer.flops + layer.other_flops
        assert row.bytes == layer.bytes_read + layer.bytes_written
    assert all(not row.untimed_ops for row in _rows(result)), [(r.name, r.untimed_ops) for r in _rows(result) if r.untimed_ops]
    # the engine's own node times are all there: layers + inserted nodes = the sum the engine reported
    reported_us = sum(node.time_ns for node in result.nodes) / 1e3
    assert result.layers_us + result.engine_nodes_us == pytest.approx(reported_us, rel=1e-6, abs=1e-3)
    # layer times + outside = the profiled run's mean end-to-end latency
    assert result.layers_us + result.engine_nodes_us + result.outside_layers_us == pytest.approx(result.end_to_end_us, rel=0.01)
    assert result.end_to_end_us > 0 and result.unprofiled_end_to_end_us > 0
    assert sum(row.time_us for row in result.layers) == pytest.approx(result.layers_us)
    for row in _rows(result):
        if row.gflops_per_s is not None:  # achieved rate = counted work / measured time
            assert row.gflops_per_s == pytest.approx(row.flops / (row.time_us * 1e3))
        roof = result.roofline
        assert row.attainable_gflops_per_s <= max(p.gflops_per_s for p in roof.peaks.values()) + 1e-9
    for row in result.layers:
        if row.parts:
            assert row.time_us == pytest.approx(sum(p.time_us for p in row.parts))
    document = result.to_dict()
    validate(document)
    validate(document["roofline"])
    assert ProfileResult.from_dict(json.loads(json.dumps(document))).to_dict() == document


def assert_under_the_roof(result: ProfileResult) -> None:
    """No layer faster than the measured peak of its precision (+5%): else the peak is wrong.

    A peak is a maximum, and a busy moment of a shared machine can only lower one measurement of
    it; when a layer beats the roof, the peak is measured once more and the higher of the two is
    the roof (the model's own timings are never re-run or loosened)."""
    from flopbench.profiling.roofline import measure_roofline

    def precision_of(row):
        first = row.precision.split(",")[0].strip()
        return {"u8": "i8"}.get(first, first or "f32")

    def over(roof):
        return [(row.name, row.gflops_per_s, roof.peak(precision_of(row)).gflops_per_s) for row in _rows(result)
                if row.gflops_per_s is not None and row.gflops_per_s > ABOVE_ROOF * roof.peak(precision_of(row)).gflops_per_s]

    if not over(result.roofline):
        return
    again = measure_roofline(result.roofline.engine, quick=True)
    best = {name: max(peak.gflops_per_s, again.peaks[name].gflops_per_s) if name in again.peaks else peak.gflops_per_s
            for name, peak in result.roofline.peaks.items()}
    still = [(name, rate, peak) for name, rate, peak in over(result.roofline)
             if rate > ABOVE_ROOF * best[precision_of(next(r for r in _rows(result) if r.name == name))]]
    assert not still, still



def test_sep_cnn_ir_on_openvino(sep_cnn_xml, roofline_cache):
    result = profile(sep_cnn_xml, iterations=30, warmup=3, precision="f32")
    check_profile(result, sep_cnn_xml)
    assert result.latency_kind == "engine" and result.iterations == 30
    assert result.roofline == roofline_cache["openvino"]
    for row in result.layers:
        if row.type == "SeparableConv2D":
            depthwise, pointwise = row.parts
            assert (depthwise.role, pointwise.role) == ("depthwise", "pointwise")
            assert depthwise.time_us > 0 and pointwise.time_us > 0
            assert "f32" in depthwise.precision and "f32" in pointwise.precision
    assert_under_the_roof(result)


def test_a_profile_as_a_data_frame(sep_cnn_xml, roofline_cache):
    """One row per layer and per part of a SeparableConv2D, in the order `flopbench flops` lists
    them, each with its FLOPs as counted and its time as measured."""
    result = profile(sep_cnn_xml, iterations=10, warmup=2, precision="f32")
    frame = result.to_pandas()
    cost = flopbench.count(sep_cnn_xml)
    expected = []
    for layer in cost.layers:
        expected.append((layer.name, "", layer.flops + layer.other_flops))
        expected += [(part.name, layer.name, part.flops + part.other_flops) for part in layer.parts]
    assert list(zip(frame["layer"], frame["parent"], frame["flops"])) == expected
    assert list(frame["time_us"]) == [row.time_us for row in _rows(result)]
    assert sum(frame.loc[frame["parent"] == "", "time_us"]) == pytest.approx(result.layers_us)


@pytest.mark.parametrize("engine", ["openvino", "onnxruntime"])
def test_sep_cnn_onnx_on_both_engines(sep_cnn_onnx, roofline_cache, engine):
    # 25 inferences in blocks of 3: the last block is 1, for the unprofiled model too
    result = profile(sep_cnn_onnx, engine=engine, iterations=25, warmup=3, precision="f32" if engine == "openvino" else None)
    check_profile(result, sep_cnn_onnx)
    assert result.complete and (result.iterations, result.unprofiled_iterations) == (25, 25)
    assert (result.profiled_latency.count, result.unprofiled_latency.count, result.overhead.block_size) == (25, 25, 3)
    assert result.engine["engine"] == engine
    assert result.latency_kind == ("engine" if engine == "openvino" else "call")
    conv_rows = [row for row in _rows(result) if row.role]
    assert len(conv_rows) == 4 and all(row.time_us > 0 for row in conv_rows)
    assert_under_the_roof(result)


def test_mobilenet_v1_on_openvino(tmp_path_factory, roofline_cache):
    from flopbench.zoo import write_zoo_model

    folder = tmp_path_factory.mktemp("mobilenet")
    files = write_zoo_model("mobilenet_v1", folder)
    result = profile(files.xml, iterations=8, warmup=2)
    check_profile(result, files.xml)
    separable = [row for row in result.layers if row.type == "SeparableConv2D"]
    assert len(separable) == 13 and all(p.time_us > 0 for row in separable for p in row.parts)
    assert_under_the_roof(result)


@pytest.mark.parametrize("engine", ["openvino", "onnxruntime"])
def test_a_light_model_of_the_onnx_package(engine, roofline_cache):
    model = LIGHT / "light_squeezenet.onnx"
    result = profile(model, engine=engine, iterations=20, warmup=2, precision="f32" if engine == "openvino" else None)
    check_profile(result, model)
    convs = [row for row in result.layers if row.type == "Conv2D"]
    assert len(convs) == 26 and all(row.time_us > 0 for row in convs)
    assert_under_the_roof(result)


def unnamed_nodes_model(path: Path) -> Path:
    """Reshape -> Conv -> Relu -> Softmax, no node named; a Softmax of opset 9 on a 4-D tensor,
    which OpenVINO's reader decomposes into Reshape -> Softmax -> Reshape of its own."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.random.default_rng(0).random((4, 3, 3, 3), dtype=np.float32), "w")
    shape = numpy_helper.from_array(np.array([1, 3, 8, 8], dtype=np.int64), "shape")
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["image"]), helper.make_node("Conv", ["image", "w"], ["c"]),
             helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Softmax", ["r"], ["y"], axis=1)]
    graph = helper.make_graph(nodes, "unnamed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 192])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])], [weights, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("engine", ["openvino", "onnxruntime"])
def test_a_model_whose_nodes_have_no_names(engine, tmp_path, roofline_cache):
    model = unnamed_nodes_model(tmp_path / "unnamed.onnx")
    result = profile(model, engine=engine, iterations=20, warmup=2, precision="f32" if engine == "openvino" else None)
    check_profile(result, model)
    # an unnamed node is named after its output tensor; the ops OpenVINO adds to compute the
    # Softmax after the node they were made from, not with a counter of the process
    assert [(row.name, row.type) for row in result.layers] == [
        ("image", "Reshape"), ("c", "Conv2D"), ("y/Reshape", "Flatten"), ("y/Softmax", "Softmax"), ("y", "Reshape")]
    assert all(not row.untimed_ops for row in result.layers)
    assert result.layers[1].time_us > 0
    if engine == "openvino":  # the engine read the file itself and reports the count's names
        reported = {name for node in result.nodes for name in node.original_names}
        assert {op.name for op in flopbench.count(model).ops} <= reported


def test_cli_json_plot_and_schema(sep_cnn_xml, tmp_path, roofline_cache):
    target, plot = tmp_path / "profile.json", tmp_path / "roofline.png"
    done = subprocess.run([sys.executable, "-m", "flopbench", "profile", str(sep_cnn_xml), "-niter", "10", "--warmup", "2",
                           "-o", str(target), "--plot", str(plot)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    document = json.loads(target.read_text())
    validate(document)
    assert document["iterations"] == 10 and document["complete"] is True
    loaded = flopbench.load_result(target)
    assert isinstance(loaded, ProfileResult) and loaded.to_dict() == document
    assert {"time_us", "gflops_per_s", "attainable_gflops_per_s"} <= set(document["layers"][0])
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "roofline.svg"
    table = subprocess.run([sys.executable, "-m", "flopbench", "profile", str(sep_cnn_xml), "-niter", "5", "--plot", str(svg)],
                           capture_output=True, text=True, timeout=300)
    assert table.returncode == 0, table.stderr
    assert "outside layers" in table.stdout and "conv1/depthwise" in table.stdout
    assert b"<svg" in svg.read_bytes()[:500]


def test_interrupt_keeps_what_was_measured(sep_cnn_xml, tmp_path, roofline_cache):
    target = tmp_path / "partial.json"
    process = subprocess.Popen([sys.executable, "-m", "flopbench", "profile", str(sep_cnn_xml), "-niter", "1000000",
                                "-o", str(target)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    line = ""
    while time.time() < deadline and "profiling" not in line:
        ready, _, _ = select.select([process.stderr], [], [], 1.0)
        if ready:
            line = process.stderr.readline()
            if not line:
                break
    assert "profiling" in line, line
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    document = json.loads(target.read_text())
    assert document["complete"] is False and document["iterations"] > 0
    assert document["unprofiled_end_to_end_us"] is None
    validate(document)


def test_onnxruntime_profiles_leave_no_temporary_folder(sep_cnn_onnx, tmp_path, roofline_cache):
    """ONNX Runtime writes its trace and optimized graph into a temporary folder: gone when the
    profile ends, whether it ends normally or by SIGTERM (as Ctrl-C) mid-run."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "flopbench", "profile", str(sep_cnn_onnx), "--engine", "onnxruntime", "-niter", "3",
                           "--warmup", "0", "-o", str(tmp_path / "p.json")], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert not list(tmp_path.glob("flopbench-*"))  # (an engine library keeps a session id file, .ses, there: not flopbench's)
    process = subprocess.Popen([sys.executable, "-m", "flopbench", "profile", str(sep_cnn_onnx), "--engine", "onnxruntime",
                                "-niter", "1000000", "-o", str(tmp_path / "q.json")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob("flopbench-ort-*")):
        time.sleep(0.1)
    assert list(tmp_path.glob("flopbench-ort-*")), "the profile never started"
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert json.loads((tmp_path / "q.json").read_text())["complete"] is False
    assert not list(tmp_path.glob("flopbench-*")) and not list(tmp_path.glob("*.tmp"))
