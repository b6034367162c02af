"""Quantized models count the MACs they run on integers, and their weights at the stored precision."""
import json
import subprocess
import sys

import numpy as np
import onnx
import openvino as ov
import openvino.opset13 as ops
import pytest
from onnx import numpy_helper

import flopbench
from flopbench.results.schema import validate

CONV_AND_FC = {"conv1", "conv2", "fc1", "fc2"}


@pytest.fixture(scope="module")
def qdq_onnx(sep_cnn_onnx, tmp_path_factory):
    """sep_cnn quantized by ONNX Runtime's own static quantizer, QDQ format."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Calibration(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.samples = iter([{"input": rng.standard_normal((1, 1, 28, 28)).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.samples, None)

    target = tmp_path_factory.mktemp("qdq") / "sep_cnn_qdq.onnx"
    quantize_static(str(sep_cnn_onnx), str(target), Calibration(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return target


def test_qdq_model_counts_like_its_float_source(qdq_onnx, sep_cnn_onnx):
    quantized, float_model = flopbench.count(qdq_onnx), flopbench.count(sep_cnn_onnx)
    assert quantized.macs == float_model.macs == 463_404
    assert quantized.params == float_model.params == 370_232
    assert quantized.not_counted == {}
    assert quantized.macs_by_precision == {"int8": 463_404} and quantized.float_macs == 0
    assert float_model.macs_by_precision == {"f32": 463_404} and float_model.integer_macs == 0
    for name in CONV_AND_FC:
        assert quantized.layer(name).precision == "int8", name
    assert [p.precision for p in quantized.layer("conv1").parts] == ["int8", "int8"]


def test_qdq_weight_bytes_are_the_stored_bytes(qdq_onnx):
    cost = flopbench.count(qdq_onnx)
    initializers = onnx.load(str(qdq_onnx)).graph.initializer
    names = {onnx.TensorProto.INT8: "i8", onnx.TensorProto.UINT8: "u8", onnx.TensorProto.INT32: "i32", onnx.TensorProto.FLOAT: "f32"}
    stored: dict[str, int] = {}
    for tensor in initializers:
        stored[names[tensor.data_type]] = stored.get(names[tensor.data_type], 0) + numpy_helper.to_array(tensor).nbytes
    # the int8 conv / matmul weights are one byte per parameter: the float model's 4 bytes / 4
    weights = sum(numpy_helper.to_array(t).nbytes for t in initializers if t.name.endswith(".weight_quantized"))
    assert weights == 9 + 10 + 90 + 50 + 2880 * 128 + 1280
    # every initializer is a weight, zero point, scale or quantized bias read at inference; OpenVINO's
    # reader turns each QuantizeLinear's scale and zero point into a FakeQuantize with four f32 range scalars
    quantize_nodes = sum(1 for node in onnx.load(str(qdq_onnx)).graph.node if node.op_type == "QuantizeLinear")
    assert cost.weight_bytes_by_type == {**stored, "f32": stored["f32"] + quantize_nodes * 4 * 4}


def _ir(tmp_path, model, name):
    path = tmp_path / f"{name}.xml"
    ov.save_model(model, path, compress_to_fp16=False)
    return path


def test_fake_quantize_and_int4_weights(tmp_path):
    """Data through a 16-level FakeQuantize, weights stored as i4: an int4 convolution whose weights
    take half a byte each; the FakeQuantize costs 7 other FLOPs per element."""
    rng = np.random.default_rng(1)
    x = ops.parameter([1, 3, 8, 8], np.float32, name="x")
    lo, hi = ops.constant(np.float32(-1)), ops.constant(np.float32(1))
    fq = ops.fake_quantize(x, lo, hi, lo, hi, 16, name="fq")
    packed = ops.constant(ov.Tensor(ov.Type.i4, ov.Shape([4, 3, 3, 3])))
    scale = ops.constant(rng.random((4, 1, 1, 1)).astype(np.float32))
    weights = ops.multiply(ops.convert(packed, ov.Type.f32), scale)
    conv = ops.convolution(fq, weights, [1, 1], [0, 0], [0, 0], [1, 1], name="conv")
    cost = flopbench.count(_ir(tmp_path, ov.Model([ops.result(conv)], [x]), "int4"))
    assert cost.op("conv").precision == "int4"
    assert cost.op("fq").other_flops == 7 * 3 * 8 * 8
    assert cost.macs == 4 * 6 * 6 * 3 * 3 * 3 and cost.params == 4 * 27
    # packed weights at half a byte; the 4 per-channel scales; the FakeQuantize ranges: 2 shared scalars, each once
    assert cost.weight_bytes_by_type == {"i4": 4 * 27 // 2, "f32": 4 * 4 + 2 * 4}


def test_f16_weights_behind_a_convert(tmp_path):
    """A compressed float model: f16 weights, f32 compute. Bytes are the stored f16 bytes."""
    x = ops.parameter([1, 16], np.float32, name="x")
    w16 = ops.constant(np.ones((16, 32), dtype=np.float16))
    mm = ops.matmul(x, ops.convert(w16, ov.Type.f32), False, False, name="fc")
    cost = flopbench.count(_ir(tmp_path, ov.Model([ops.result(mm)], [x]), "f16"))
    assert cost.op("fc").precision == "f32" and cost.integer_macs == 0
    assert cost.params == 16 * 32
    assert cost.weight_bytes_by_type == {"f16": 2 * 16 * 32}
    # bytes moved stay at the type the op reads: the engine decompresses f16 weights once, at compile time
    assert cost.op("fc").bytes_read == 4 * 16 + 4 * 16 * 32


def test_float_model_weight_bytes_are_four_per_parameter(sep_cnn_xml):
    cost = flopbench.count(sep_cnn_xml)
    assert cost.weight_bytes == 4 * cost.params == cost.weight_bytes_by_type["f32"]


def test_json_and_csv_carry_precision_and_memory(qdq_onnx, tmp_path):
    target = tmp_path / "q.json"
    subprocess.run([sys.executable, "-m", "flopbench", "flops", str(qdq_onnx), "-o", str(target), "--memory-budget", "1MB"],
                   check=True, timeout=120, capture_output=True)
    document = json.loads(target.read_text())
    validate(document)
    # precision, stored weights and memory load back (OpenVINO's made-up op names differ between processes)
    loaded, fresh = flopbench.load_result(target), flopbench.count(qdq_onnx)
    assert [(op.type, op.precision, op.stored_weights) for op in loaded.ops] == [(op.type, op.precision, op.stored_weights) for op in fresh.ops]
    assert loaded.weight_bytes == fresh.weight_bytes and loaded.memory.peak_bytes == fresh.memory.peak_bytes == 54_080
    totals = document["totals"]
    assert totals["integer_macs"] == 463_404 and totals["float_macs"] == 0 and totals["macs"] == 463_404
    assert document["macs_by_precision"] == {"int8": 463_404}
    assert totals["weight_bytes"] == sum(document["weight_bytes_by_type"].values())
    budget = document["memory_budget"]
    assert budget["budget_bytes"] == 1_000_000 and budget["fits"]
    assert budget["needed_bytes"] == totals["weight_bytes"] + totals["peak_activation_bytes"]
    fc1 = next(layer for layer in document["layers"] if layer["name"] == "fc1")
    assert fc1["precision"] == "int8" and fc1["activation_bytes"] == 4 * 128
    csv_text = subprocess.run([sys.executable, "-m", "flopbench", "flops", str(qdq_onnx), "--format", "csv"],
                              check=True, timeout=120, capture_output=True, text=True).stdout
    header, *rows = csv_text.splitlines()
    assert "precision" in header.split(",") and any(row.startswith("fc1,") and ",int8," in row for row in rows)
    table = subprocess.run([sys.executable, "-m", "flopbench", "flops", str(qdq_onnx), "--memory-budget", "0.1MB"],
                           check=True, timeout=120, capture_output=True, text=True).stdout
    assert "MACs by precision: int8 463,404" in table
    assert "does NOT fit" in table


def test_dynamic_quantization_counts_like_its_float_source(sep_cnn_onnx, tmp_path):
    """`quantize_dynamic`: ConvInteger / MatMulInteger on uint8 weights, activations quantized at run
    time (DynamicQuantizeLinear). OpenVINO reads them as integer convolutions and matmuls."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = tmp_path / "sep_cnn_dynamic.onnx"
    quantize_dynamic(str(sep_cnn_onnx), str(target), weight_type=QuantType.QUInt8)
    op_types = {node.op_type for node in onnx.load(str(target)).graph.node}
    assert {"ConvInteger", "MatMulInteger", "DynamicQuantizeLinear"} <= op_types
    quantized, source = flopbench.count(target), flopbench.count(sep_cnn_onnx)
    assert quantized.macs == source.macs == 463_404 and quantized.not_counted == {}
    assert quantized.params == source.params == 370_232
    assert quantized.macs_by_precision == {"int8": 463_404}
    # the uint8 weights one byte each, plus one uint8 zero point per quantized weight
    weights = [t for t in onnx.load(str(target)).graph.initializer if t.data_type == onnx.TensorProto.UINT8]
    assert quantized.weight_bytes_by_type["u8"] == sum(numpy_helper.to_array(t).nbytes for t in weights)


def test_onnxruntime_says_a_qdq_model_runs_int8(qdq_onnx, sep_cnn_onnx):
    from flopbench.measure.bench import bench
    from flopbench.measure.policy import RunPolicy

    quick = RunPolicy(warmup_iterations=1, min_duration_s=0.05, min_iterations=3)
    quantized = bench(qdq_onnx, engines=("onnxruntime",), policy=quick).results[0].settings
    assert quantized.executed_precision == "int8 (quantized model), float ops in f32"
    source = bench(sep_cnn_onnx, engines=("onnxruntime",), policy=quick).results[0].settings
    assert source.executed_precision == "f32"
