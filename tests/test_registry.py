"""The formula registry: one formula per op type, overrides for one count only, op-type sets in one place."""
from __future__ import annotations

import importlib.util
import math

import onnx
import pytest
from pathlib import Path

import flopbench
from flopbench.counting import layers, ops, optypes
from flopbench.counting.formulas import FORMULAS, DuplicateFormulaError, OpView, Work
from flopbench.errors import FlopbenchError

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def test_a_second_formula_for_relu_fails_when_its_module_is_imported(tmp_path):
    module = tmp_path / "my_formulas.py"
    module.write_text(
        "from flopbench.counting.formulas import Work, formula\n\n"
        "@formula('Relu')\n"
        "def my_relu(op):\n"
        "    return Work(other_flops=3)\n"
    )
    before = FORMULAS["Relu"]
    spec = importlib.util.spec_from_file_location("my_formulas", module)
    with pytest.raises(DuplicateFormulaError, match="'Relu' is already registered"):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert FORMULAS["Relu"] is before


def _relu_ops(cost):
    return [op for op in cost.ops if op.type == "Relu"]


def test_an_override_is_used_in_its_call_only(sep_cnn_onnx):
    def three_per_element(op: OpView) -> Work:
        return Work(other_flops=3 * math.prod(op.output_shapes[0]))

    default = flopbench.count(sep_cnn_onnx)
    overridden = flopbench.count(sep_cnn_onnx, formulas={"Relu": three_per_element})
    again = flopbench.count(sep_cnn_onnx)
    relus = _relu_ops(overridden)
    assert len(relus) == 3  # after each separable conv and after fc1
    # sep_cnn's ReLUs: after 1x10x26x26, 1x5x24x24 and the 128 units of fc1
    elements = [10 * 26 * 26, 5 * 24 * 24, 128]
    assert sorted(op.other_flops for op in relus) == sorted(3 * n for n in elements)
    assert sorted(op.other_flops for op in _relu_ops(default)) == sorted(elements)
    assert overridden.other_flops - default.other_flops == 2 * sum(elements)
    assert [op.other_flops for op in _relu_ops(again)] == [op.other_flops for op in _relu_ops(default)]
    assert again.to_dict()["ops"] == default.to_dict()["ops"]
    assert overridden.macs == default.macs


def test_an_override_adds_a_formula_for_an_op_type_without_one(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Atan", ["x"], ["y"], name="atan")], "atan",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "atan.onnx")
    default = flopbench.count(tmp_path / "atan.onnx")
    assert default.not_counted == {"Atan": 1}

    def atan(op: OpView) -> Work:  # one per element, say
        return Work(other_flops=math.prod(op.output_shapes[0]))

    counted = flopbench.count(tmp_path / "atan.onnx", formulas={"Atan": atan})
    assert counted.not_counted == {} and counted.other_flops == default.other_flops + 3 * 8 * 8
    assert flopbench.count(tmp_path / "atan.onnx").not_counted == {"Atan": 1}  # the registry is unchanged


def test_lrn_matches_a_hand_count_on_alexnet():
    alexnet = LIGHT / "light_bvlc_alexnet.onnx"
    lrns = [op for op in flopbench.count(alexnet).ops if op.type == "LRN"]
    # AlexNet's two LRNs (size 5: 5 squares + 4 adds, then scale, bias, power, divide = 13 per
    # element) follow conv1 (96 kernels 11x11, stride 4, on 224x224) and conv2 (256 kernels 5x5,
    # pad 2, after a 3x3 stride-2 max pool)
    conv1 = (224 - 11) // 4 + 1
    conv2 = (conv1 - 3) // 2 + 1
    elements = [96 * conv1 * conv1, 256 * conv2 * conv2]
    assert sorted(op.other_flops for op in lrns) == sorted(13 * n for n in elements)


def test_an_override_that_returns_no_work_leaves_the_op_uncounted(sep_cnn_onnx):
    cost = flopbench.count(sep_cnn_onnx, formulas={"Relu": lambda op: 5})
    relus = _relu_ops(cost)
    assert relus and all(not op.counted and "not a Work" in op.note for op in relus)
    assert cost.not_counted == {"Relu": 3}


@pytest.mark.parametrize("formulas, problem", [
    ({"Relu": 3}, "not a function"),
    ({"": lambda op: Work()}, "not an op type name"),
    ({7: lambda op: Work()}, "not an op type name"),
    ([("Relu", lambda op: Work())], "not a mapping"),
])
def test_bad_overrides_are_refused_before_reading(formulas, problem):
    with pytest.raises(FlopbenchError, match=problem):
        flopbench.count("no-such-model.onnx", formulas=formulas)


def test_op_type_sets_live_in_optypes_only():
    for module in (ops, layers):
        for name in ("KERNEL_OPS", "CONV_TYPES", "ANCHORS", "EPILOGUE", "STRUCTURAL", "SETTING_INPUTS"):
            value = getattr(module, name, None)
            assert value is None or value is getattr(optypes, name, object()), f"{module.__name__}.{name} is a second copy"
    assert {"Convolution", "GroupConvolution"} <= optypes.CONVOLUTIONS <= optypes.ANCHORS
