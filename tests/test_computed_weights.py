"""Models whose weights are computed in the graph (ConstantOfShape, Expand, Mul of constants): the
`onnx` package's light models store a few bytes per weight and fill it at load time. Their weights
are reported once materialized beside as stored, counted in the memory budget, and folded before
`convert` and `quantize` rewrite them."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import flopbench
from flopbench.results.schema import validate

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "flopbench", *map(str, args)], capture_output=True, text=True, timeout=timeout)


def materialized_by_hand(path: Path) -> int:
    """Bytes of the weights once computed, read with the onnx package: every ConstantOfShape's output
    (its shape's product × its value's item size) and every float initializer, as stored."""
    model = onnx.load(path)
    initializers = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    total = sum(a.nbytes for a in initializers.values() if a.dtype.kind == "f")
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape":
            value = numpy_helper.to_array(node.attribute[0].t)
            total += int(np.prod(initializers[node.input[0]])) * value.itemsize
    return total


def test_vgg19_weights_are_reported_once_materialized_beside_as_stored():
    path = LIGHT / "light_vgg19.onnx"
    cost = flopbench.count(path)
    assert cost.params == 143_667_240
    assert cost.weight_bytes < 1_000  # as stored: the fill values and the biases
    # OpenVINO reads each of the three Gemms as MatMul × alpha: a 4-byte f32 scalar it stores
    gemms = sum(node.op_type == "Gemm" for node in onnx.load(path).graph.node)
    assert gemms == 3 and materialized_by_hand(path) == 4 * 143_667_240
    assert cost.materialized_weight_bytes == materialized_by_hand(path) + 4 * gemms
    shown = cli("flops", path)
    assert shown.returncode == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if line.startswith("Weights:"))
    assert "as stored" in line and "574,668,972 B (575 MB) once computed" in line
    document = json.loads(cli("flops", path, "--format", "json").stdout)
    assert document["totals"]["materialized_weight_bytes"] == 4 * 143_667_240 + 4 * gemms


def test_stored_weights_are_the_same_once_materialized(sep_cnn_onnx):
    cost = flopbench.count(sep_cnn_onnx)
    # every parameter stored as f32, nothing computed: once materialized is as stored
    assert cost.materialized_weight_bytes == cost.weight_bytes == 4 * cost.params


def test_the_memory_budget_counts_weights_once_materialized():
    path = LIGHT / "light_resnet50.onnx"
    cost = flopbench.count(path)
    weights = materialized_by_hand(path)
    assert cost.materialized_weight_bytes == weights
    shown = cli("flops", path, "--memory-budget", "16MiB", "--format", "json")
    budget = json.loads(shown.stdout)["memory_budget"]
    assert budget["weight_bytes"] == weights and budget["fits"] is False
    assert budget["needed_bytes"] == weights + cost.peak_activation_bytes
    table = cli("flops", path, "--memory-budget", "16MiB").stdout
    assert "does NOT fit" in table and "fits," not in table


def computed_weight_conv(path: Path, weights_as_input: bool = False) -> Path:
    """x 1x3x16x16 → 3x3 Conv (3 → 8 channels, pad 1) → ReLU → 1x1 Conv (8 → 4) → out. The 3x3 conv's
    weights are computed: ConstantOfShape([8,3,3,3], 0.5) × a per-channel scale [8,1,1,1], its bias an
    Expand of one stored number to [8]. With `weights_as_input` the 1x1 conv's weights are a graph
    input (no engine can fold or quantize them)."""
    shape = numpy_helper.from_array(np.array([8, 3, 3, 3], np.int64), "w_shape")
    scale = numpy_helper.from_array(np.linspace(0.5, 1.5, 8, dtype=np.float32).reshape(8, 1, 1, 1), "w_scale")
    bias_value = numpy_helper.from_array(np.array([0.1], np.float32), "b_value")
    bias_shape = numpy_helper.from_array(np.array([8], np.int64), "b_shape")
    pointwise = numpy_helper.from_array(np.full((4, 8, 1, 1), 0.25, np.float32), "pw")
    fill = helper.make_tensor("fill", TensorProto.FLOAT, [1], [0.5])
    nodes = [
        helper.make_node("ConstantOfShape", ["w_shape"], ["w_ones"], name="fill_w", value=fill),
        helper.make_node("Mul", ["w_ones", "w_scale"], ["w"], name="scale_w"),
        helper.make_node("Expand", ["b_value", "b_shape"], ["b"], name="expand_b"),
        helper.make_node("Conv", ["x", "w", "b"], ["c1"], name="conv3x3", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
        helper.make_node("Conv", ["r1", "pw"], ["y"], name="conv1x1", kernel_shape=[1, 1]),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])]
    initializers = [shape, scale, bias_value, bias_shape]
    if weights_as_input:
        inputs.append(helper.make_tensor_value_info("pw", TensorProto.FLOAT, [4, 8, 1, 1]))
    else:
        initializers.append(pointwise)
    graph = helper.make_graph(nodes, "computed_weights", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])],
                              initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


# the 3x3 conv by hand: 16x16 outputs x 8 channels x (3 x 3 x 3); as separable: a 3x3 depthwise on 3
# channels, then a 1x1 from 3 to 8 channels; the 1x1 conv after it: 16x16 x 4 x 8
CONV3X3_MACS = 16 * 16 * 8 * 27
SEPARABLE_MACS = 16 * 16 * 3 * 9 + 16 * 16 * 8 * 3
POINTWISE_MACS = 16 * 16 * 4 * 8


def test_convert_folds_computed_weights_then_converts(tmp_path):
    source = computed_weight_conv(tmp_path / "computed.onnx")
    assert flopbench.count(source).macs == CONV3X3_MACS + POINTWISE_MACS
    done = cli("convert", "--to", "separable", source, "-o", tmp_path / "separable.onnx", "--json", tmp_path / "convert.json")
    assert done.returncode == 0, done.stderr
    assert "converted 1 " in done.stdout and "folded" in done.stdout
    converted = flopbench.count(tmp_path / "separable.onnx")
    assert converted.macs == SEPARABLE_MACS + POINTWISE_MACS
    assert [layer.type for layer in converted.layers if layer.macs] == ["SeparableConv2D", "Conv2D"]
    report = json.loads((tmp_path / "convert.json").read_text())
    assert report["folded"] >= 2 and [r["replaced"] for r in report["rewrites"]] == [["conv3x3"]]
    # the written model runs: ONNX Runtime reads the folded weights as initializers
    import onnxruntime

    session = onnxruntime.InferenceSession(str(tmp_path / "separable.onnx"), providers=["CPUExecutionProvider"])
    out = session.run(None, {"x": np.ones((1, 3, 16, 16), np.float32)})[0]
    assert out.shape == (1, 4, 16, 16) and np.isfinite(out).all()


def test_convert_finds_resnet50s_convolutions_behind_constant_of_shape(tmp_path):
    done = cli("convert", "--to", "separable", LIGHT / "light_resnet50.onnx", "-o", tmp_path / "r50.onnx")
    assert done.returncode == 0, done.stderr
    # ResNet-50: the 7x7 stem and one 3x3 in each of its 16 bottleneck blocks
    assert "converted 17 " in done.stdout
    converted = flopbench.count(tmp_path / "r50.onnx")
    assert sum(layer.type == "SeparableConv2D" for layer in converted.layers) == 17


def test_quantize_folds_computed_weights_and_quantizes_every_convolution(tmp_path):
    source = computed_weight_conv(tmp_path / "computed.onnx")
    done = cli("quantize", source, "-o", tmp_path / "q", "--samples", "4")
    assert done.returncode == 0, done.stderr
    assert "100% of the MACs int8" in done.stdout and "warning" not in done.stderr
    twin = flopbench.count(tmp_path / "q" / "computed.xml")
    assert twin.macs == twin.integer_macs == CONV3X3_MACS + POINTWISE_MACS


def test_quantize_light_resnet50_puts_every_mac_in_int8(tmp_path):
    done = cli("quantize", LIGHT / "light_resnet50.onnx", "-o", tmp_path / "q", "--samples", "1")
    assert done.returncode == 0, done.stderr
    twin = flopbench.count(tmp_path / "q" / "light_resnet50.xml")
    assert twin.macs == twin.integer_macs == 4_089_184_256
    # every Conv and Gemm weight is stored as int8, one byte per element of its ConstantOfShape
    model = onnx.load(LIGHT / "light_resnet50.onnx")
    shapes = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    filled = {n.output[0]: int(np.prod(shapes[n.input[0]])) for n in model.graph.node if n.op_type == "ConstantOfShape"}
    weights = sum(filled[n.input[1]] for n in model.graph.node if n.op_type in ("Conv", "Gemm"))
    assert twin.weight_bytes_by_type["i8"] == weights


def _conv_then(tmp_path: Path, second: str) -> Path:
    """x 1x8x16x16 → 3x3 Conv (8 → 8, pad 1) → `second`: a DeformableConvolution (8 → 4, 3x3, zero
    offsets, pad 1) or an Einsum with constant weights (8 → 4 channels): ops NNCF leaves in float."""
    import openvino as ov
    import openvino.opset8 as opset8
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    x = ops.parameter([1, 8, 16, 16], np.float32, name="x")
    conv = ops.convolution(x, ops.constant(rng.standard_normal((8, 8, 3, 3)).astype(np.float32)), [1, 1], [1, 1], [1, 1], [1, 1], name="conv")
    if second == "deformable":
        offsets = ops.constant(np.zeros((1, 18, 16, 16), np.float32))
        out = opset8.deformable_convolution(conv, offsets, ops.constant(rng.standard_normal((4, 8, 3, 3)).astype(np.float32)),
                                            [1, 1], [1, 1], [1, 1], [1, 1], name="deformable")
        path = tmp_path / "conv_deformable.xml"
        ov.save_model(ov.Model([out], [x]), path)
    else:
        out = ops.einsum([x, ops.constant(rng.standard_normal((8, 4)).astype(np.float32))], "nchw,co->nohw")
        path = tmp_path / "einsum.xml"
        ov.save_model(ov.Model([out], [x]), path)
    return path


def test_quantize_says_loudly_when_part_of_the_macs_stay_float(tmp_path):
    source = _conv_then(tmp_path, "deformable")
    conv, deformable = 16 * 16 * 8 * 72, 16 * 16 * 4 * 72  # by hand: outputs × (C_in × 3 × 3)
    assert flopbench.count(source).macs == conv + deformable
    done = cli("quantize", source, "-o", tmp_path / "q", "--samples", "2")
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, done.stderr
    assert f"67% of the float model's convolution and matmul MACs are int8 ({conv:,} of {conv + deformable:,})" in warnings[0]
    assert "DeformableConvolution ×1" in warnings[0]
    assert flopbench.count(tmp_path / "q" / "conv_deformable.xml").integer_macs == conv


def test_quantize_refuses_a_twin_with_no_int8_macs(tmp_path):
    source = _conv_then(tmp_path, "einsum")
    done = cli("quantize", source, "-o", tmp_path / "q", "--samples", "2")
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("flopbench: error")]
    assert len(errors) == 1 and "none of" in errors[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "q" / "einsum.xml").exists()


@pytest.mark.parametrize("model, engines", [("light_resnet50", "openvino,onnxruntime"), ("sep_cnn", "openvino,onnxruntime")])
def test_measured_memory_is_explained_part_by_part_to_within_2x(model, engines, sep_cnn_onnx):
    path = LIGHT / f"{model}.onnx" if model.startswith("light") else sep_cnn_onnx
    document = json.loads(cli("flops", path, "--measure-memory", engines, "--format", "json").stdout)
    validate(document)
    cost = flopbench.count(path)
    for measured in document["measured_memory"]:
        part = measured["breakdown"]
        # the parts: the engine's fixed cost measured on a one-op model, the count's weights and activations
        assert 0 < part["engine_fixed_bytes"] < measured["total_growth_bytes"]
        assert part["weight_bytes"] == cost.materialized_weight_bytes and part["activation_bytes"] == cost.peak_activation_bytes
        assert part["estimate_bytes"] + part["rest_bytes"] == measured["total_growth_bytes"]
        assert 0.5 <= measured["total_growth_bytes"] / part["estimate_bytes"] <= 2.0, (measured["engine"], part)
    if not model.startswith("light"):  # the table says the same, once, on the small model (each measurement is two fresh processes)
        table = cli("flops", path, "--measure-memory", "openvino").stdout
        assert "= engine fixed cost" in table and "estimate with the engine's costs" in table
