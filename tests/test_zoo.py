"""The zoo models: both forms load, run, agree, carry the documented names, and are deterministic."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

ov = pytest.importorskip("openvino")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from flopbench import zoo  # noqa: E402
from flopbench.errors import OptionError, OutputError  # noqa: E402

F32 = {"INFERENCE_PRECISION_HINT": "f32"}  # CPUs with bf16 would otherwise drift past 1e-4

SEP_CNN_NAMES = [
    "conv1/depthwise", "conv1/pointwise", "conv1/bias", "conv1/relu",
    "conv2/depthwise", "conv2/pointwise", "conv2/bias", "conv2/relu",
    "flatten", "fc1", "fc1/bias", "fc1/relu", "fc2", "fc2/bias", "softmax",
]
STD_CNN_NAMES = [
    "conv1", "conv1/bias", "conv1/relu", "conv2", "conv2/bias", "conv2/relu",
    "flatten", "fc1", "fc1/bias", "fc1/relu", "fc2", "fc2/bias", "softmax",
]
HEAD_TYPES = {"flatten": "Reshape", "fc1": "MatMul", "fc1/bias": "Add", "fc1/relu": "Relu",
              "fc2": "MatMul", "fc2/bias": "Add"}
# (friendly name -> op type) that the IR must have, per model.
IR_TYPES = {
    "sep_cnn": {**HEAD_TYPES, "conv1/depthwise": "GroupConvolution", "conv1/pointwise": "Convolution",
                "conv1/bias": "Add", "conv1/relu": "Relu", "conv2/depthwise": "GroupConvolution",
                "conv2/pointwise": "Convolution", "conv2/bias": "Add", "conv2/relu": "Relu",
                "softmax": "Softmax"},
    "std_cnn": {**HEAD_TYPES, "conv1": "Convolution", "conv1/bias": "Add", "conv1/relu": "Relu",
                "conv2": "Convolution", "conv2/bias": "Add", "conv2/relu": "Relu", "softmax": "Softmax"},
}
# What OpenVINO's ONNX frontend makes of the ONNX form (see the zoo module docstring).
ONNX_TYPES = {
    "sep_cnn": {**HEAD_TYPES, "conv1/depthwise": "Convolution",
                "conv1/pointwise/WithoutBiases": "Convolution", "conv1/pointwise": "Add",
                "conv1/relu": "Relu", "conv2/depthwise": "GroupConvolution",
                "conv2/pointwise/WithoutBiases": "Convolution", "conv2/pointwise": "Add",
                "conv2/relu": "Relu", "probabilities": "Softmax"},
    "std_cnn": {**HEAD_TYPES, "conv1/WithoutBiases": "Convolution", "conv1": "Add", "conv1/relu": "Relu",
                "conv2/WithoutBiases": "Convolution", "conv2": "Add", "conv2/relu": "Relu",
                "probabilities": "Softmax"},
}


@pytest.fixture(scope="module")
def core():
    return ov.Core()


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """sep_cnn and std_cnn written once for the module, both into one folder."""
    folder = tmp_path_factory.mktemp("zoo")
    return {name: zoo.write_zoo_model(name, folder) for name in ("sep_cnn", "std_cnn")}


def _types(model) -> dict[str, str]:
    return {n.get_friendly_name(): n.get_type_name() for n in model.get_ordered_ops()}


def _image() -> np.ndarray:
    return zoo.sample_image().reshape(1, 1, 28, 28)


# --- API ------------------------------------------------------------------------------------


def test_names_and_descriptions():
    assert zoo.ZOO_NAMES == ("sep_cnn", "std_cnn", "mobilenet_v1", "conv_mobilenet_v1", "mobilenet_v2", "vgg16")
    for name in zoo.ZOO_NAMES:
        line = zoo.describe(name)
        assert line.startswith(name) and "\n" not in line


@pytest.mark.parametrize("call", [zoo.describe, zoo.build_openvino, zoo.build_onnx,
                                  lambda n: zoo.write_zoo_model(n, ".")])
def test_unknown_name_is_an_option_error(call, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OptionError) as info:
        call("resnet50")
    assert str(info.value) == "unknown zoo model 'resnet50'; choose one of: sep_cnn, std_cnn, mobilenet_v1, conv_mobilenet_v1, mobilenet_v2, vgg16"
    assert list(tmp_path.iterdir()) == []


def test_sample_image_is_a_deterministic_digit():
    img = zoo.sample_image()
    assert img.shape == (28, 28) and img.dtype == np.float32
    assert img.min() == 0.0 and img.max() == 1.0
    assert 0.05 < img.mean() < 0.3  # some ink, mostly background, like MNIST
    assert np.array_equal(img, zoo.sample_image())


# --- files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sep_cnn", "std_cnn"])
def test_files_written(written, name):
    files = written[name]
    folder = files.xml.parent
    assert (files.xml, files.bin, files.onnx, files.image) == (
        folder / f"{name}.xml", folder / f"{name}.bin", folder / f"{name}.onnx", folder / "image.npy")
    assert all(p.is_file() for p in (files.xml, files.bin, files.onnx, files.image))
    assert files.to_dict() == {"name": name, "xml": str(files.xml), "bin": str(files.bin),
                               "onnx": str(files.onnx), "image": str(files.image)}
    # Nothing left over from staging.
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["image.npy"] + [f"{n}.{ext}" for n in ("sep_cnn", "std_cnn") for ext in ("xml", "bin", "onnx")])
    image = np.load(files.image, allow_pickle=False)
    assert image.dtype == np.float32 and np.array_equal(image, zoo.sample_image())
    xml = files.xml.read_text()
    assert 'element_type="f32"' in xml and "f16" not in xml


def test_write_creates_missing_parents(tmp_path):
    files = zoo.write_zoo_model("std_cnn", tmp_path / "a" / "b")
    assert files.xml.is_file() and files.image == tmp_path / "a" / "b" / "image.npy"


def test_write_into_a_file_is_an_output_error(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    with pytest.raises(OutputError):
        zoo.write_zoo_model("sep_cnn", blocker)


def test_overwrite_and_determinism(tmp_path, written):
    again = zoo.write_zoo_model("sep_cnn", tmp_path)
    again = zoo.write_zoo_model("sep_cnn", tmp_path)  # overwriting existing files works too
    first = written["sep_cnn"]
    for attr in ("xml", "bin", "onnx", "image"):
        assert getattr(again, attr).read_bytes() == getattr(first, attr).read_bytes(), attr


def test_mobilenet_builds_deterministically():
    a, b = zoo.build_onnx("mobilenet_v1"), zoo.build_onnx("mobilenet_v1")
    assert a.SerializeToString() == b.SerializeToString()
    weights = lambda m: [n.get_data().copy() for n in m.get_ordered_ops() if n.get_type_name() == "Constant"]  # noqa: E731
    for x, y in zip(weights(zoo.build_openvino("mobilenet_v1")), weights(zoo.build_openvino("mobilenet_v1"))):
        assert np.array_equal(x, y)


# --- running ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sep_cnn", "std_cnn"])
def test_ir_and_onnx_agree(core, written, name):
    files = written[name]
    image = _image()
    ir = core.compile_model(core.read_model(files.xml), "CPU", F32)
    got_ir = ir({"input": image})[ir.output("probabilities")]
    assert got_ir.shape == (1, 10) and got_ir.dtype == np.float32
    assert got_ir.sum() == pytest.approx(1.0, abs=1e-5)
    assert got_ir.max() > 0.15  # not uniform: the weights really act on the image

    ov_onnx = core.compile_model(core.read_model(files.onnx), "CPU", F32)
    got_ov_onnx = ov_onnx({"input": image})[ov_onnx.output("probabilities")]

    session = ort.InferenceSession(str(files.onnx), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    (got_ort,) = session.run(["probabilities"], {"input": image})
    np.testing.assert_allclose(got_ort, got_ir, atol=1e-4, rtol=0)
    np.testing.assert_allclose(got_ov_onnx, got_ir, atol=1e-4, rtol=0)


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, names", [("sep_cnn", SEP_CNN_NAMES), ("std_cnn", STD_CNN_NAMES)])
def test_ir_names(core, written, name, names):
    model = core.read_model(written[name].xml)
    print(name, "xml:", [(n.get_type_name(), n.get_friendly_name()) for n in model.get_ordered_ops()])
    types = _types(model)
    assert [n for n in names if n not in types] == []
    assert {n: types[n] for n in IR_TYPES[name]} == IR_TYPES[name]
    # Tensor names follow the node names, so either can address a layer's output.
    for node in model.get_ordered_ops():
        if node.get_friendly_name() in names and node.get_type_name() != "Softmax":
            assert node.output(0).get_names() == {node.get_friendly_name()}
    assert model.input(0).get_names() == {"input"}
    assert model.output(0).get_names() == {"probabilities"}
    assert model.input(0).get_partial_shape() == ov.PartialShape([1, 1, 28, 28])


@pytest.mark.parametrize("name", ["sep_cnn", "std_cnn"])
def test_onnx_names_in_openvino(core, written, name):
    model = core.read_model(written[name].onnx)
    print(name, "onnx:", [(n.get_type_name(), n.get_friendly_name()) for n in model.get_ordered_ops()])
    types = _types(model)
    assert {n: types.get(n) for n in ONNX_TYPES[name]} == ONNX_TYPES[name]


@pytest.mark.parametrize("name", ["sep_cnn", "std_cnn", "mobilenet_v1"])
def test_onnx_is_valid(name):
    proto = zoo.build_onnx(name)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == 17
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["probabilities"]
    # Every ONNX node carries the layer name, which onnxruntime's profiler reports.
    assert all(node.name for node in proto.graph.node)


def test_sep_cnn_structure_matches_exercise():
    model = zoo.build_openvino("sep_cnn")
    shapes = {n.get_friendly_name(): (list(n.get_input_shape(1)) if n.get_input_size() > 1 else None,
                                      list(n.get_output_shape(0)))
              for n in model.get_ordered_ops()}
    assert shapes["conv1/depthwise"] == ([1, 1, 1, 3, 3], [1, 1, 26, 26])
    assert shapes["conv1/pointwise"] == ([10, 1, 1, 1], [1, 10, 26, 26])
    assert shapes["conv1/bias"] == ([1, 10, 1, 1], [1, 10, 26, 26])
    assert shapes["conv2/depthwise"] == ([10, 1, 1, 3, 3], [1, 10, 24, 24])
    assert shapes["conv2/pointwise"] == ([5, 10, 1, 1], [1, 5, 24, 24])
    assert shapes["flatten"][1] == [1, 2880]
    assert shapes["fc1"] == ([2880, 128], [1, 128])
    assert shapes["fc2"] == ([128, 10], [1, 10])
    # The exercise's FLOP numbers (2 FLOPs per MAC) follow from these shapes.
    assert 2 * _macs(model) == 12_168 + 13_520 + 103_680 + 57_600 + 737_280 + 2_560


# --- mobilenet ----------------------------------------------------------------------------------


def _macs(model) -> int:
    """MACs of Convolution / GroupConvolution / MatMul, from shapes alone."""
    total = 0
    for node in model.get_ordered_ops():
        kind = node.get_type_name()
        if kind in ("Convolution", "GroupConvolution"):
            n, cin = list(node.get_input_shape(0))[:2]
            _, cout, hout, wout = node.get_output_shape(0)
            w = list(node.get_input_shape(1))
            groups = w[0] if kind == "GroupConvolution" else 1
            kh, kw = w[-2:]
            total += n * cout * hout * wout * (cin // groups) * kh * kw
        elif kind == "MatMul":
            m, k = node.get_input_shape(0)
            k2, n = node.get_input_shape(1)
            assert k == k2
            total += m * n * k
    return total


def _params(model) -> int:
    return sum(math.prod(n.get_output_shape(0)) for n in model.get_ordered_ops()
               if n.get_type_name() == "Constant" and n.get_element_type() == ov.Type.f32)


def test_mobilenet_v1_matches_paper(core):
    model = zoo.build_openvino("mobilenet_v1")
    assert model.output(0).get_partial_shape() == ov.PartialShape([1, 1000])
    assert model.input(0).get_partial_shape() == ov.PartialShape([1, 3, 224, 224])
    assert abs(_macs(model) - 569e6) / 569e6 < 0.01
    assert _params(model) == 4_253_864  # with BatchNorm's 4 per channel, as Keras counts
    types = _types(model)
    assert types["conv1"] == "Convolution" and types["fc"] == "MatMul" and types["softmax"] == "Softmax"
    for i in range(1, 14):
        assert types[f"block{i}/depthwise"] == "GroupConvolution"
        assert types[f"block{i}/pointwise"] == "Convolution"
    assert "block14/depthwise" not in types

    # The ONNX form, through OpenVINO's frontend: same output shape, same MACs and weights.
    from_onnx = core.read_model(zoo.build_onnx("mobilenet_v1").SerializeToString())
    assert from_onnx.output(0).get_partial_shape() == ov.PartialShape([1, 1000])
    assert _macs(from_onnx) == _macs(model)
    proto = zoo.build_onnx("mobilenet_v1")
    onnx_params = sum(math.prod(t.dims) for t in proto.graph.initializer if not t.name.startswith("relu6."))
    assert onnx_params == _params(model)


# --- vgg16 --------------------------------------------------------------------------------------


@pytest.mark.skipif(not os.environ.get("FLOPBENCH_SLOW_TESTS"),
                    reason="builds 550 MB of weights; set FLOPBENCH_SLOW_TESTS=1")
def test_vgg16(core):
    model = zoo.build_openvino("vgg16")
    assert model.output(0).get_partial_shape() == ov.PartialShape([1, 1000])
    assert abs(_params(model) - 138.36e6) / 138.36e6 < 0.01
    assert abs(_macs(model) - 15.47e9) / 15.47e9 < 0.01
    del model
    proto = zoo.build_onnx("vgg16")
    assert len(proto.graph.node) == 13 * 2 + 5 + 1 + 3 * 2 + 2 + 1


# --- formats, options and the command line --------------------------------------------------------


@pytest.mark.parametrize("fmt, suffixes", [("ir", {".xml", ".bin"}), ("onnx", {".onnx"}), ("both", {".xml", ".bin", ".onnx"})])
def test_format_writes_only_what_is_asked(tmp_path, fmt, suffixes):
    files = zoo.write_zoo_model("mobilenet_v1", tmp_path, fmt=fmt, alpha=0.25, resolution=128)
    assert {p.suffix for p in tmp_path.iterdir()} == suffixes
    assert {p.name for p in files.paths} == {f"mobilenet_v1_0.25_128{s}" for s in suffixes}
    model = ov.Core().read_model(files.xml or files.onnx)
    assert model.input(0).get_partial_shape() == ov.PartialShape([1, 3, 128, 128])


@pytest.mark.parametrize("name", ["mobilenet_v2", "conv_mobilenet_v1"])
def test_scalable_models_run_alike_on_both_forms(core, tmp_path, name):
    files = zoo.write_zoo_model(name, tmp_path, alpha=0.25, resolution=96)
    image = np.random.default_rng(0).random((1, 3, 96, 96), dtype=np.float32)
    ir = core.compile_model(core.read_model(files.xml), "CPU", F32)
    got_ir = ir({"input": image})[ir.output("probabilities")]
    session = ort.InferenceSession(str(files.onnx), providers=["CPUExecutionProvider"])
    (got_ort,) = session.run(["probabilities"], {"input": image})
    assert got_ir.shape == (1, 1000) and got_ir.sum() == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(got_ort, got_ir, atol=1e-4, rtol=0)


def test_zoo_says_the_size_before_writing(tmp_path):
    import subprocess
    import sys

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    done = subprocess.run([sys.executable, "-m", "flopbench", "zoo", "vgg16", "-o", str(blocker / "vgg")],
                          capture_output=True, text=True, timeout=120)
    lines = done.stderr.splitlines()
    assert done.returncode == 2
    # 138,357,544 parameters · 4 bytes · 2 formats, said before anything is built
    assert lines[0] == f"flopbench: writing vgg16 (both, about 1.1 GB) to {blocker / 'vgg'}"
    assert lines[1].startswith("flopbench: error: cannot create folder")
    assert zoo.planned_bytes("vgg16") == 4 * 138_357_544 * 2


# --- every resolution: the MobileNets pool globally (issue 22, item 12) -----------------------

def _features_and_probabilities(core, path, side: int):
    """The pool's input and the probabilities of `path` run by OpenVINO at side × side."""
    model = core.read_model(path)
    model.reshape({"input": [1, 3, side, side]})
    # the one ReduceMean: the IR's, the ONNX GlobalAveragePool's, the .tflite MEAN's (whose name
    # OpenVINO's reader replaces when it moves the layout Transpose across it)
    pool = next(op for op in model.get_ordered_ops() if op.get_type_name() == "ReduceMean")
    features = pool.input_value(0)
    model.add_outputs([features])
    compiled = core.compile_model(model, "CPU", F32)
    image = np.random.default_rng(side).random((1, 3, side, side), dtype=np.float32)
    got = compiled({"input": image})
    return got[compiled.outputs[-1]], got[compiled.output("probabilities")]


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2"])
def test_mobilenets_pool_globally_at_any_resolution_in_every_format(core, tmp_path, name):
    import flopbench
    from flopbench.zoo.families import zoo_spec
    from flopbench.zoo.spec import DenseLayer, lower

    written = zoo.write_zoo_model(name, tmp_path, fmt="both", alpha=0.25)
    tflite = zoo.write_zoo_model(name, tmp_path, fmt="tflite", alpha=0.25).tflite
    spec, standard, _ = zoo_spec(name, 0.25, None)
    fc = next(layer for layer in lower(spec, "input", standard) if isinstance(layer, DenseLayer))
    channels = fc.weight.shape[0]
    for path in (written.xml, written.onnx, tflite):
        for side in (160, 300):  # a 7×7 pool fails at 160 (a 5×5 map) and gives 16 rows at 300 (10×10)
            cost = flopbench.count(path, shape={"input": [1, 3, side, side]})
            classifier = next(layer for layer in cost.layers if layer.type == "FullyConnected")  # "fc/bias" in the .tflite
            assert classifier.input_shape == (1, channels), (path.name, side)
            assert classifier.macs == channels * 1000
            assert cost.layer("pool").type == "GlobalAvgPool2D"
            features, probabilities = _features_and_probabilities(core, path, side)
            spatial = tuple(axis for axis in (1, 2, 3) if features.shape[axis] != channels)  # NCHW, or NHWC in the .tflite
            # the independent truth: the mean over every position, then the classifier's own weights
            logits = features.mean(axis=spatial).reshape(1, channels) @ fc.weight + fc.bias
            expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
            assert probabilities.shape == (1, 1000)
            np.testing.assert_allclose(probabilities, expected, atol=1e-5, rtol=1e-3)
