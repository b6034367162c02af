"""Measured memory: a fresh process per engine, its RSS before and after compiling and at the inference peak."""
import json
import subprocess
import sys

import numpy as np
import pytest

import flopbench
from flopbench.errors import EngineError
from flopbench.measure.footprint import measure_footprint
from flopbench.results.schema import validate

WEIGHTS = 2048 * 4096  # f32 elements: 33.6 MB that any engine must hold once compiled


@pytest.fixture(scope="module")
def heavy_onnx(tmp_path_factory):
    """One matmul with 33.6 MB of weights: the compiled model cannot be smaller than that."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.random.default_rng(0).standard_normal((2048, 4096)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")], "heavy",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2048])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4096])], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp("heavy") / "heavy.onnx"
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("engine", ["openvino", "onnxruntime"])
def test_the_compiled_model_holds_its_weights(heavy_onnx, engine):
    footprint = measure_footprint(heavy_onnx, engine, precision="f32" if engine == "openvino" else None, iterations=3)
    assert footprint.engine == engine and footprint.peak_reset
    # the weights are in memory once the model is compiled (either engine may keep a second copy)
    assert footprint.compile_growth_bytes >= 0.9 * WEIGHTS * 4
    assert footprint.compile_peak_bytes >= footprint.after_compile_bytes > footprint.before_compile_bytes
    assert footprint.total_growth_bytes >= footprint.compile_growth_bytes


def test_flops_shows_the_estimate_beside_the_measurement(heavy_onnx, tmp_path):
    target = tmp_path / "heavy.json"
    done = subprocess.run([sys.executable, "-m", "flopbench", "flops", str(heavy_onnx), "--measure-memory", "openvino,onnxruntime",
                           "-o", str(target)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    document = json.loads(target.read_text())
    validate(document)
    assert document["totals"]["weight_bytes"] == WEIGHTS * 4
    assert document["totals"]["peak_activation_bytes"] == (2048 + 4096) * 4  # input and output, both held while the matmul runs
    assert [m["engine"] for m in document["measured_memory"]] == ["openvino", "onnxruntime"]
    text = subprocess.run([sys.executable, "-m", "flopbench", "flops", str(heavy_onnx), "--measure-memory"],
                          capture_output=True, text=True, timeout=600).stdout
    assert "Measured memory (RSS of a fresh process; estimate: weights + peak activations = 33.6 MB)" in text
    assert "openvino (" in text and "compiling" in text


def test_a_failing_engine_is_a_clean_error(sep_cnn_xml):
    with pytest.raises(EngineError, match="ONNX Runtime cannot run sep_cnn.xml"):
        measure_footprint(sep_cnn_xml, "onnxruntime")
