"""Layer grouping on a real network: MobileNetV1 from the zoo, as IR and as ONNX."""
import pytest

import flopbench
from flopbench.zoo import write_zoo_model


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mobilenet")
    files = write_zoo_model("mobilenet_v1", folder)
    return flopbench.count(files.xml), flopbench.count(files.onnx)


def test_thirteen_separable_blocks(mobilenet):
    for cost in mobilenet:
        separable = [layer for layer in cost.layers if layer.type == "SeparableConv2D"]
        assert [layer.name for layer in separable] == [f"block{i}" for i in range(1, 14)]
        assert all([p.role for p in layer.parts] == ["depthwise", "pointwise"] for layer in separable)
        assert cost.layers[0].type == "Conv2D" and cost.layer("fc").type == "FullyConnected"


def test_the_paper_numbers(mobilenet):
    # Howard et al. 2017, Table 1: 569 million mult-adds, 4.2 million parameters
    for cost in mobilenet:
        assert cost.macs == 568_740_352
        assert cost.params == pytest.approx(4.2e6, rel=0.01)


def test_ir_and_onnx_agree_layer_by_layer(mobilenet):
    ir, onnx = mobilenet
    assert ir.params == onnx.params  # ReLU6's clip bounds (single numbers) are not weights
    assert [(l.type, l.macs, l.params, l.input_shape, l.output_shape) for l in ir.layers][:-1] == \
           [(l.type, l.macs, l.params, l.input_shape, l.output_shape) for l in onnx.layers][:-1]


def test_each_op_names_its_layer(mobilenet):
    ir, _ = mobilenet
    layer_names = {layer.name for layer in ir.layers}
    assert all(op.layer in layer_names for op in ir.ops)
    assert sum(layer.macs for layer in ir.layers) == ir.macs


def test_dynamic_onnx_with_a_global_pool(tmp_path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = numpy_helper.from_array(np.ones((8, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
                               helper.make_node("GlobalAveragePool", ["c"], ["y"], name="gap")], "g", [x], [y], [w])
    path = tmp_path / "dynamic.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    cost = flopbench.count(path, shape="x:2x3x16x16")
    assert [layer.type for layer in cost.layers] == ["Conv2D", "GlobalAvgPool2D"]
    assert cost.macs == 2 * 8 * 16 * 16 * 3 * 9
    assert cost.layers[1].other_flops == 2 * 8 * 16 * 16 + 2 * 8  # one add per input, one divide per output
