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
    # Howard et al. 2017, Table 1: 569 million mult-adds; 4.2 million weights, which with
    # BatchNorm's 4 per channel is Keras's total (the paper's way: tests/test_mobilenet_paper.py)
    for cost in mobilenet:
        assert cost.macs == 568_740_352
        assert cost.params == 4_253_864


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


def test_onnx_names_survive_and_settings_are_not_weights(tmp_path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    initializers = [numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), "w"),
                    numpy_helper.from_array(np.ones((2,), np.float32), "b"),
                    numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")]
    nodes = [helper.make_node("ConvTranspose", ["x", "w", "b"], ["c"], name="deconv", strides=[2, 2]),
             helper.make_node("Resize", ["c", "", "scales"], ["y"], name="up", mode="nearest")]
    path = tmp_path / "deconv.onnx"
    onnx.save(helper.make_model(helper.make_graph(nodes, "g", [x], [y], initializers),
                                opset_imports=[helper.make_opsetid("", 17)]), path)
    cost = flopbench.count(path)
    deconv = cost.layers[0]
    # OpenVINO names the ConvTranspose itself ConvolutionBackpropData_N and gives "deconv" to its bias add
    assert deconv.name == "deconv" and deconv.type == "ConvTranspose2D"
    assert deconv.macs == 4 * 8 * 8 * 2 * 3 * 3  # N·C_in·H_in·W_in · C_out·K_h·K_w
    assert cost.params == 4 * 2 * 3 * 3 + 2  # the resize scales configure, they are not weights


def test_ops_after_a_data_dependent_shape_are_listed_apart(tmp_path):
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    data = ops.parameter([4, 4], np.float32, name="data")
    nonzero = ops.non_zero(data, "i64")
    as_float = ops.convert(nonzero, "f32")
    matmul = ops.matmul(ops.transpose(as_float, ops.constant(np.array([1, 0], np.int64))),
                        ops.constant(np.ones((2, 3), np.float32)), False, False)
    path = tmp_path / "nonzero.xml"
    ov.save_model(ov.Model([matmul], [data], "nonzero"), path, compress_to_fp16=False)
    cost = flopbench.count(path)
    assert cost.not_counted == {"NonZero": 1}
    assert cost.dynamic_shapes.get("MatMul") == 1


class _CountedWalks(tuple):
    """A tuple of ops that counts how often it is walked."""
    walks = 0

    def __iter__(self):
        type(self).walks += 1
        return super().__iter__()


def test_sums_are_walked_once_and_match_naive_sums(mobilenet):
    # a page of 100,000 layers reads each layer's and the model's sums many times: each is summed
    # once, and equals the plain sum over the ops (a dataclasses.replace gets its own sums)
    import dataclasses

    for cost in mobilenet:
        layer = cost.layer("block1")
        ops = _CountedWalks(layer.ops)
        fresh = dataclasses.replace(layer, ops=ops)
        expected = {name: sum(getattr(op, name) for op in layer.ops) for name in
                    ("macs", "other_flops", "params", "bytes_read", "bytes_written", "weight_bytes")}
        _CountedWalks.walks = 0
        for _ in range(3):
            assert {name: getattr(fresh, name) for name in expected} == expected
            assert fresh.flops == 2 * expected["macs"]
            assert fresh.counted and fresh.precision == "f32"
        assert _CountedWalks.walks <= 4  # one pass each for the sums, the weights, counted, precision
        model = dataclasses.replace(cost, ops=_CountedWalks(cost.ops))
        _CountedWalks.walks = 0
        totals = [model.totals for _ in range(3)]
        assert totals[0]["macs"] == sum(op.macs for op in cost.ops) == 568_740_352
        assert totals[0]["params"] == sum(op.params for op in cost.ops)
        assert totals[0]["weight_bytes"] == sum(size for op in cost.ops for _, size in op.stored_weights)
        assert _CountedWalks.walks <= 5
