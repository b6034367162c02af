"""Every number of the seed exercise comes out of flopbench exactly, from the IR and the ONNX twin."""
import pytest

import flopbench

EXERCISE = {
    "conv1/depthwise": 12_168,
    "conv1/pointwise": 13_520,
    "conv1": 25_688,
    "conv2/depthwise": 103_680,
    "conv2/pointwise": 57_600,
    "conv2": 161_280,
    "fc1": 737_280,
    "fc2": 2_560,
}


@pytest.fixture(scope="module", params=["xml", "onnx"])
def cost(request, zoo_dir):
    return flopbench.count(zoo_dir / f"sep_cnn.{request.param}")


@pytest.mark.parametrize("layer,flops", EXERCISE.items())
def test_each_exercise_number(cost, layer, flops):
    assert cost.layer(layer).flops == flops


def test_totals(cost):
    assert cost.total_flops == 926_808
    assert cost.macs == 463_404
    assert cost.not_counted == {}


def test_layer_structure_matches_the_exercise(cost):
    kinds = [(layer.name, layer.type) for layer in cost.layers]
    # the ONNX reader names the last op after the graph's output tensor
    softmax = "softmax" if cost.format == "ir" else "probabilities"
    assert kinds == [("conv1", "SeparableConv2D"), ("conv2", "SeparableConv2D"), ("flatten", "Flatten"),
                     ("fc1", "FullyConnected"), ("fc2", "FullyConnected"), (softmax, "Softmax")]
    first = cost.layer("conv1")
    assert [p.role for p in first.parts] == ["depthwise", "pointwise"]
    assert first.input_shape == (1, 1, 28, 28)
    assert first.parts[0].output_shape == (1, 1, 26, 26)  # "our actual output shape will be 1x26x26"
    assert first.kernel == (3, 3) and first.kernels == 10
    second = cost.layer("conv2")
    assert second.parts[0].output_shape == (1, 10, 24, 24) and second.output_shape == (1, 5, 24, 24)
    assert second.kernels == 5
    assert cost.layer("fc1").input_shape == (1, 2880) and cost.layer("fc1").kernels == 128


def test_params_each_weight_once(cost):
    # dw 9 + pw 10 + b 10; dw 90 + pw 50 + b 5; fc1 2880*128 + 128; fc2 1280 + 10
    assert cost.layer("conv1").params == 29
    assert cost.layer("conv2").params == 145
    assert cost.layer("fc1").params == 368_768
    assert cost.params == 29 + 145 + 368_768 + 1_290


def test_other_flops_are_separate_and_optional(zoo_dir):
    default = flopbench.count(zoo_dir / "sep_cnn.xml")
    with_other = flopbench.count(zoo_dir / "sep_cnn.xml", include_other=True)
    assert default.other_flops == with_other.other_flops > 0
    assert with_other.total_flops == 926_808 + default.other_flops
    # bias (1) + relu (1) per output element of conv1's pointwise: 2 * 10*26*26
    assert default.layer("conv1").other_flops == 2 * 6_760


def test_ir_and_onnx_agree_op_by_op(zoo_dir):
    ir = flopbench.count(zoo_dir / "sep_cnn.xml")
    onnx = flopbench.count(zoo_dir / "sep_cnn.onnx")
    # the ONNX reader names the softmax after the graph output ("probabilities"); all else agrees
    assert [(l.type, l.flops, l.params, l.other_flops) for l in ir.layers] == [(l.type, l.flops, l.params, l.other_flops) for l in onnx.layers]
    assert [l.name for l in ir.layers][:-1] == [l.name for l in onnx.layers][:-1]


def test_bytes_are_activations_plus_weights(zoo_dir):
    cost = flopbench.count(zoo_dir / "sep_cnn.xml")
    fc1 = cost.op("fc1")
    assert fc1.bytes_read == 4 * (2880 + 2880 * 128)
    assert fc1.bytes_written == 4 * 128


def test_standard_twin_costs_more(zoo_dir):
    std = flopbench.count(zoo_dir / "std_cnn.xml")
    # conv1: 10*26*26*1*9 MACs; conv2: 5*24*24*10*9
    assert std.layer("conv1").flops == 2 * 10 * 26 * 26 * 9
    assert std.layer("conv2").flops == 2 * 5 * 24 * 24 * 10 * 9
    assert std.layer("conv1").type == "Conv2D"
