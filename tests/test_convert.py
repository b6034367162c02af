"""`convert`: standard ↔ separable on IR and ONNX, checked against the exercise's numbers, the
MobileNet paper's Table 3 and the zoo's twins; converted models load and run on both engines."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import flopbench
from flopbench.cli.main import main
from flopbench.results.schema import validate
from flopbench.converting.convert import convert
from flopbench.zoo import write_zoo_model

from conftest import F32


def _shapes(cost):
    return [(layer.name, layer.output_shape) for layer in cost.layers]


@pytest.mark.parametrize("ext", ["xml", "onnx"])
def test_round_trip_gives_back_shapes_and_macs(zoo_dir, tmp_path, ext):
    original = flopbench.count(zoo_dir / f"std_cnn.{ext}")
    there = convert(zoo_dir / f"std_cnn.{ext}", "separable", tmp_path / f"sep.{ext}")
    assert [r.replaced for r in there.rewrites] == [("conv1",), ("conv2",)]
    separable = flopbench.count(tmp_path / f"sep.{ext}")
    # the exercise's own separable model, counted by hand in its text: 463,404 MACs
    assert separable.macs == 463_404
    assert [layer.type for layer in separable.layers][:2] == ["SeparableConv2D", "SeparableConv2D"]
    back = convert(tmp_path / f"sep.{ext}", "standard", tmp_path / f"back.{ext}")
    assert len(back.rewrites) == 2
    again = flopbench.count(tmp_path / f"back.{ext}")
    assert _shapes(again) == _shapes(original) == _shapes(separable)
    assert again.macs == original.macs == 689_960
    assert [layer.type for layer in again.layers] == [layer.type for layer in original.layers]


@pytest.mark.parametrize("ext", ["xml", "onnx"])
def test_mobilenet_to_standard_is_the_papers_conv_mobilenet(tmp_path, ext):
    files = write_zoo_model("mobilenet_v1", tmp_path, alpha=0.25, resolution=128)
    twin = write_zoo_model("conv_mobilenet_v1", tmp_path, fmt="ir", alpha=0.25, resolution=128)
    result = convert(getattr(files, "xml" if ext == "xml" else "onnx"), "standard", tmp_path / f"std.{ext}")
    assert len(result.rewrites) == 13
    # the depthwise side's BatchNorm and ReLU go with it (they act on channels the standard conv never makes)
    assert result.rewrites[0].replaced[1:3] == ("block1/depthwise/bn", "block1/depthwise/relu")
    converted, expected = flopbench.count(tmp_path / f"std.{ext}"), flopbench.count(twin.xml)
    assert converted.macs == expected.macs
    assert [l.output_shape for l in converted.layers] == [l.output_shape for l in expected.layers]
    assert [l.type for l in converted.layers] == [l.type for l in expected.layers]


def _one_layer(path, bias: bool):
    """Table 3's layer: 14×14×512 in, 3×3, 512 out, padded to keep 14×14."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal((512, 512, 3, 3), dtype=np.float32) * 0.02, "w")]
    inputs = ["x", "w"]
    if bias:
        weights.append(numpy_helper.from_array(np.zeros(512, np.float32), "b"))
        inputs.append("b")
    graph = helper.make_graph([helper.make_node("Conv", inputs, ["y"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])], "table3",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 512, 14, 14])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 512, 14, 14])], weights)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def test_table_3_of_the_mobilenet_paper(tmp_path):
    standard = flopbench.count(_one_layer(tmp_path / "conv.onnx", bias=False))
    convert(tmp_path / "conv.onnx", "separable", tmp_path / "sep.onnx")
    separable = flopbench.count(tmp_path / "sep.onnx")
    # Howard et al. 2017, Table 3: 462 M mult-adds / 2.36 M params; separable 52.3 M / 0.27 M
    assert abs(standard.macs / 1e6 - 462) / 462 < 0.005 and round(standard.params / 1e6, 2) == 2.36
    assert abs(separable.macs / 1e6 - 52.3) / 52.3 < 0.005 and round(separable.params / 1e6, 2) == 0.27
    assert separable.layers[0].type == "SeparableConv2D" and separable.layers[0].output_shape == (1, 512, 14, 14)


def test_converted_onnx_is_valid_and_both_engines_agree(zoo_dir, tmp_path):
    convert(zoo_dir / "std_cnn.onnx", "separable", tmp_path / "sep.onnx", seed=3)
    proto = onnx.load(str(tmp_path / "sep.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    assert not any(t.name == "conv1.weight" for t in proto.graph.initializer)  # the replaced weights are gone
    image = np.load(zoo_dir / "image.npy").reshape(1, 1, 28, 28)
    (got_ort,) = ort.InferenceSession(str(tmp_path / "sep.onnx"), providers=["CPUExecutionProvider"]).run(None, {"input": image})
    compiled = flopbench.model.openvino_core().compile_model(str(tmp_path / "sep.onnx"), "CPU", F32)
    got_ov = compiled({"input": image})[compiled.output(0)]
    np.testing.assert_allclose(got_ov, got_ort, atol=1e-4)
    assert got_ort.sum() == pytest.approx(1.0, abs=1e-5)


def test_converted_ir_runs_and_the_bias_stays(zoo_dir, tmp_path):
    convert(zoo_dir / "std_cnn.xml", "separable", tmp_path / "sep.xml")
    model = flopbench.model.openvino_core().read_model(str(tmp_path / "sep.xml"))
    types = {n.get_friendly_name(): n.get_type_name() for n in model.get_ordered_ops()}
    assert types["conv1/depthwise"] == "GroupConvolution" and types["conv1/pointwise"] == "Convolution"
    assert types["conv1/bias"] == "Add" and "conv1" not in types
    compiled = flopbench.model.openvino_core().compile_model(model, "CPU", F32)
    out = compiled({"input": np.load(zoo_dir / "image.npy").reshape(1, 1, 28, 28)})[compiled.output(0)]
    assert out.shape == (1, 10) and out.sum() == pytest.approx(1.0, abs=1e-5)


def test_seeded_weights(zoo_dir, tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        convert(zoo_dir / "std_cnn.onnx", "separable", tmp_path / f"{name}.onnx", seed=seed)
    data = {n: (tmp_path / f"{n}.onnx").read_bytes() for n in "abc"}
    assert data["a"] == data["b"] != data["c"]


def test_cli_nothing_to_convert_writes_nothing(zoo_dir, tmp_path, capfd):
    out = tmp_path / "out"
    out.mkdir()
    code = main(["convert", "--to", "separable", str(zoo_dir / "sep_cnn.xml"), "-o", str(out / "x.xml")])
    captured = capfd.readouterr()
    assert code == 0
    assert captured.err.startswith("nothing to convert:") and "nothing written" in captured.err
    assert list(out.iterdir()) == []


def test_cli_says_the_weights_are_new_and_writes_json(zoo_dir, tmp_path):
    done = subprocess.run([sys.executable, "-m", "flopbench", "convert", "--to", "separable", str(zoo_dir / "std_cnn.onnx"),
                           "-o", str(tmp_path / "sep.onnx"), "--json", str(tmp_path / "convert.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "converted 2 convolutions to depthwise + pointwise pairs:" in done.stdout
    assert "conv1 → conv1/depthwise + conv1/pointwise (1→10, 3x3)" in done.stdout
    assert "seeded random (--seed 0): the model is for cost and speed, not accuracy" in done.stderr
    document = json.loads((tmp_path / "convert.json").read_text())
    validate(document)
    assert document["written"] == [str(tmp_path / "sep.onnx")] and len(document["rewrites"]) == 2


def test_one_convolution_is_said_in_the_singular(tmp_path, capfd):
    # issue 22, item 13: "converted 1 convolutions"
    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], "one",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "one.onnx")
    assert main(["convert", "--to", "separable", str(tmp_path / "one.onnx"), "-o", str(tmp_path / "sep.onnx")]) == 0
    assert "converted 1 convolution to a depthwise + pointwise pair:" in capfd.readouterr().out
    assert main(["convert", "--to", "standard", str(tmp_path / "sep.onnx"), "-o", str(tmp_path / "std.onnx")]) == 0
    assert "converted 1 depthwise + pointwise pair to a standard convolution:" in capfd.readouterr().out
