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


def test_an_override_that_returns_no_work_is_named_as_the_fault(sep_cnn_onnx):
    """A caller's formula returning junk is the caller's fault, named with the op it was given
    (a FormulaError: exit 2 on the command line), never a count that silently left the op out."""
    from flopbench.errors import FormulaError

    with pytest.raises(FormulaError, match=r"given for Relu, on op '.*', returned 5, not a Work of whole numbers"):
        flopbench.count(sep_cnn_onnx, formulas={"Relu": lambda op: 5})


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


# --- a new op type taught through the registry alone ---------------------------------------

BINARY_CONV_MACS = 16 * 16 * 16 * 8 * 3 * 3  # output elements x (C_in x K_h x K_w), counted by hand

# A module a user writes to teach flopbench one conv-like op: its formula and its facts, nothing else.
BINARY_CONVOLUTION_MODULE = '''
from flopbench.counting.formulas import Work, formula, numel


@formula("BinaryConvolution", kind="conv", weight_input=1, layer="BinaryConv",
         doc="N·C_out·H_out·W_out · C_in·K_h·K_w MACs of 1-bit weights")
def binary_convolution(op):
    return Work(macs=numel(op.output_shapes[0]) * numel(op.input_shapes[1][1:]))
'''

TEACH_AND_PROFILE = '''
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
import binary_convolution  # noqa: F401  (registers the op)
import flopbench
from flopbench.measure.engines import EngineConfig, get_engine
from flopbench.profiling.join import join

cost = flopbench.count(sys.argv[1])
runner = get_engine("openvino").compile(sys.argv[1], {}, EngineConfig(profile=True))
nodes = runner.node_times({"x": np.random.default_rng(0).random((1, 8, 16, 16), dtype=np.float32)}, iterations=5)
joined = join(cost, nodes)
engine = next(n for n in nodes if n.type == "BinaryConvolution")
timed = next(t for t in joined.layers if t.layer.name == "bconv")
op = next(o for o in cost.ops if o.name == "bconv")
print(json.dumps({"macs": cost.macs, "not_counted": cost.not_counted, "kernel": op.kernel, "kernels": op.kernels,
                  "params": op.params, "precision": op.precision,
                  "layers": [[layer.name, layer.type, [o.name for o in layer.ops]] for layer in cost.layers],
                  "node_ns": engine.time_ns, "node_names": list(engine.original_names), "node_kernel": engine.exec_type,
                  "layer_ns": timed.time_ns, "layer_kernels": list(timed.kernels), "untimed": list(joined.untimed_ops)}))
'''


@pytest.fixture(scope="module")
def binary_conv_xml(tmp_path_factory):
    """A 3x3 1-bit convolution on binarized data (FakeQuantize, 2 levels), then bias and ReLU: OpenVINO's
    BinaryConvolution, an op flopbench has no formula for, built with openvino.opset and saved as IR."""
    import openvino as ov
    import openvino.opset1 as opset1
    import openvino.opset13 as ops
    import numpy as np

    x = ops.parameter([1, 8, 16, 16], np.float32, name="x")
    low, high = ops.constant(np.float32(0)), ops.constant(np.float32(1))
    binary = ops.fake_quantize(x, low, high, low, high, 2, name="binarize")
    kernel = ov.Tensor(ov.Type.u1, ov.Shape([16, 8, 3, 3]))
    kernel.data[:] = 0b10110010
    bconv = opset1.binary_convolution(binary, ops.constant(kernel), [1, 1], [1, 1], [1, 1], [1, 1], "xnor-popcount", 0.0,
                                      name="bconv")
    bias = ops.add(bconv, ops.constant(np.ones((1, 16, 1, 1), np.float32)), name="bias")
    path = tmp_path_factory.mktemp("binary_conv") / "binary_conv.xml"
    ov.save_model(ov.Model([ops.relu(bias, name="relu")], [x]), path)
    return path


def test_one_registration_teaches_a_conv_like_op_to_counting_layers_precision_and_the_join(binary_conv_xml, tmp_path):
    import json
    import subprocess
    import sys

    untaught = flopbench.count(binary_conv_xml)
    assert untaught.not_counted == {"BinaryConvolution": 1} and untaught.macs == 0
    assert [layer.name for layer in untaught.layers] == ["binarize", "bconv", "bias", "relu"]

    (tmp_path / "binary_convolution.py").write_text(BINARY_CONVOLUTION_MODULE)
    run = subprocess.run([sys.executable, "-c", TEACH_AND_PROFILE, str(binary_conv_xml), str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    taught = json.loads(run.stdout)
    # counting: the formula, the kernel and its count from the declared weight input, the 1-bit weights as parameters
    assert taught["macs"] == BINARY_CONV_MACS and taught["not_counted"] == {}
    assert taught["kernel"] == [3, 3] and taught["kernels"] == 16 and taught["params"] == 16 * 8 * 3 * 3
    # layers: the op anchors its bias and ReLU, and names the layer type it declared
    assert taught["layers"] == [["binarize", "FakeQuantize", ["binarize"]],
                                ["bconv", "BinaryConv2D", ["bconv", "bias", "relu"]]]
    # precision: binarized data and 1-bit weights make an integer op
    assert taught["precision"].startswith("int")
    # the join: OpenVINO ran the convolution, its bias and its ReLU as one node; the layer gets all its time
    assert set(taught["node_names"]) == {"bconv", "bias", "relu"} and taught["node_ns"] > 0
    assert taught["layer_ns"] == pytest.approx(taught["node_ns"])
    assert taught["layer_kernels"] == [taught["node_kernel"]] and taught["untimed"] == []


def test_op_facts_are_declared_only_with_their_formulas():
    """An op type's facts (conv-like, which input holds the weights ...) are said in the formula
    registrations, never in a second set: these op types are named in counting/formulas.py alone."""
    package = Path(flopbench.__file__).parent
    for op_type in ("DeformableConvolution", "GroupConvolutionBackpropData", "BatchNormInference", "Einsum"):
        naming = sorted(str(p.relative_to(package)) for p in package.rglob("*.py") if f'"{op_type}"' in p.read_text(encoding="utf-8"))
        assert naming == ["counting/formulas.py"], f"{op_type} is named in {naming}"


def test_facts_declared_twice_for_one_op_type_fail():
    from flopbench.counting.formulas import formula

    with pytest.raises(DuplicateFormulaError, match="'Convolution' is already registered"):
        formula("Convolution", kind="conv")(lambda op: Work())
    assert optypes.op_facts("Convolution").weight_input == 1
