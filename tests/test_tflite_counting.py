"""`flopbench flops` on .tflite files built here against TFLite's public schema (the zoo's writer):
one op per file, its MACs checked against a naive loop that counts its own multiply-adds, its
parameters and stored bytes against the arrays written into the file. Counting needs only the
`tflite` schema package, not LiteRT."""
from __future__ import annotations

import numpy as np
import pytest

tflite = pytest.importorskip("tflite", reason="the tflite schema package is not installed: pip install 'flopbench[litert]'")

import flopbench  # noqa: E402
from flopbench.cli.main import main  # noqa: E402
from flopbench.zoo.tflite_file import TFLiteGraph, serialize  # noqa: E402

OPS, OPTIONS, PADDING = tflite.BuiltinOperator, tflite.BuiltinOptions, tflite.Padding


def _save(graph: TFLiteGraph, x: int, y: int, path) -> str:
    graph.inputs, graph.outputs = (x,), (y,)
    path.write_bytes(serialize(graph, path.stem))
    return str(path)


def _transpose_conv_macs(x: np.ndarray, w: np.ndarray, stride: int) -> tuple[int, np.ndarray]:
    """VALID transpose convolution, NHWC input and [C_out, kh, kw, C_in] weights, as a scatter:
    every input element times every weight of its output channel's kernel, each multiply-add counted."""
    n, h, wd, cin = x.shape
    cout, kh, kw, _ = w.shape
    out = np.zeros((n, (h - 1) * stride + kh, (wd - 1) * stride + kw, cout))
    macs = 0
    for b in range(n):
        for i in range(h):
            for j in range(wd):
                for ci in range(cin):
                    for co in range(cout):
                        for a in range(kh):
                            for c in range(kw):
                                out[b, i * stride + a, j * stride + c, co] += x[b, i, j, ci] * w[co, a, c, ci]
                                macs += 1
    return macs, out


def test_transpose_conv_counts_every_input_element_through_the_kernel(tmp_path):
    rng = np.random.default_rng(0)
    batch, h, w_, cin, cout, k, stride = 2, 3, 4, 3, 5, 3, 2
    weights = rng.standard_normal((cout, k, k, cin)).astype(np.float32)
    bias = rng.standard_normal(cout).astype(np.float32)
    x = rng.standard_normal((batch, h, w_, cin)).astype(np.float32)
    naive_macs, expected = _transpose_conv_macs(x, weights, stride)
    out_shape = expected.shape
    graph = TFLiteGraph()
    data = graph.tensor("image", x.shape)
    shape = graph.constant("deconv/output_shape", np.array(out_shape, np.int32))
    filters = graph.constant("deconv/weights", weights)
    bias_t = graph.constant("deconv/bias", bias)
    y = graph.tensor("deconv", out_shape)
    graph.op(OPS.TRANSPOSE_CONV, [shape, filters, data, bias_t], [y], OPTIONS.TransposeConvOptions,
             {0: ("int8", PADDING.VALID), 1: ("int32", stride), 2: ("int32", stride), 3: ("int8", 0)})
    model = _save(graph, data, y, tmp_path / "transpose_conv.tflite")
    cost = flopbench.count(model)
    assert naive_macs == batch * cin * h * w_ * cout * k * k  # the formula's N·C_in·H_in·W_in·C_out·Kh·Kw
    assert cost.macs == naive_macs and cost.total_flops == 2 * naive_macs
    assert cost.params == weights.size + bias.size
    assert cost.weight_bytes == weights.nbytes + bias.nbytes
    assert [layer.type for layer in cost.layers if layer.macs] == ["ConvTranspose2D"]  # OpenVINO adds NHWC↔NCHW transposes around it
    np.save(tmp_path / "x.npy", x)  # the file computes what the loop computed: the count is of that op
    ran = flopbench.run(model, inputs=[str(tmp_path / "x.npy")], precision="f32", niter=1)
    np.testing.assert_allclose(next(iter(ran.outputs.values())), expected + bias, rtol=1e-4, atol=1e-4)


def test_depthwise_conv_counts_one_input_channel_per_output(tmp_path):
    rng = np.random.default_rng(1)
    h, w_, channels, k = 6, 5, 4, 3
    weights = rng.standard_normal((1, k, k, channels)).astype(np.float32)  # [1, kh, kw, C]
    bias = rng.standard_normal(channels).astype(np.float32)
    out_h, out_w = h - k + 1, w_ - k + 1
    naive = sum(1 for _ in range(out_h) for _ in range(out_w) for _ in range(channels) for _ in range(k) for _ in range(k))
    graph = TFLiteGraph()
    data = graph.tensor("image", (1, h, w_, channels))
    filters = graph.constant("dw/weights", weights)
    bias_t = graph.constant("dw/bias", bias)
    y = graph.tensor("dw", (1, out_h, out_w, channels))
    graph.op(OPS.DEPTHWISE_CONV_2D, [data, filters, bias_t], [y], OPTIONS.DepthwiseConv2DOptions,
             {0: ("int8", PADDING.VALID), 1: ("int32", 1), 2: ("int32", 1), 3: ("int32", 1), 4: ("int8", 0), 5: ("int32", 1), 6: ("int32", 1)})
    cost = flopbench.count(_save(graph, data, y, tmp_path / "depthwise.tflite"))
    assert cost.macs == naive == out_h * out_w * channels * k * k
    assert (cost.params, cost.weight_bytes) == (weights.size + bias.size, weights.nbytes + bias.nbytes)
    assert [layer.type for layer in cost.layers if layer.macs] == ["DepthwiseConv2D"]  # OpenVINO adds NHWC↔NCHW transposes around it


def test_fully_connected_counts_inputs_times_units(tmp_path):
    rng = np.random.default_rng(2)
    batch, inputs, units = 3, 7, 4
    weights = rng.standard_normal((units, inputs)).astype(np.float32)  # [units, inputs]
    bias = rng.standard_normal(units).astype(np.float32)
    graph = TFLiteGraph()
    data = graph.tensor("features", (batch, inputs))
    w = graph.constant("fc/weights", weights)
    b = graph.constant("fc/bias", bias)
    y = graph.tensor("fc", (batch, units))
    graph.op(OPS.FULLY_CONNECTED, [data, w, b], [y], OPTIONS.FullyConnectedOptions, {0: ("int8", 0)})
    cost = flopbench.count(_save(graph, data, y, tmp_path / "fc.tflite"))
    assert cost.macs == sum(1 for _ in range(batch) for _ in range(units) for _ in range(inputs))
    assert (cost.params, cost.weight_bytes) == (weights.size + bias.size, weights.nbytes + bias.nbytes)
    assert [layer.type for layer in cost.layers if layer.macs] == ["FullyConnected"]  # OpenVINO adds NHWC↔NCHW transposes around it


def test_int8_weights_with_scales_are_counted_at_their_stored_bytes(tmp_path, capsys):
    """QUANTIZE → CONV_2D with per-channel int8 weights and int32 bias → DEQUANTIZE, as TFLite's
    full-integer quantization writes it: one byte a weight, four a bias."""
    rng = np.random.default_rng(3)
    cin, cout, k = 3, 4, 3
    weights = rng.integers(-127, 128, (cout, k, k, cin)).astype(np.int8)
    scales = tuple(float(s) for s in rng.uniform(0.01, 0.02, cout))
    bias = rng.integers(-1000, 1000, cout).astype(np.int32)
    graph = TFLiteGraph()
    x = graph.tensor("image", (1, 6, 6, cin))
    xq = graph.tensor("image_q", (1, 6, 6, cin), "int8", scale=(0.05,), zero_point=(0,))
    wq = graph.constant("conv/weights_q", weights, scale=scales, zero_point=(0,) * cout)
    bq = graph.constant("conv/bias_q", bias, scale=tuple(0.05 * s for s in scales), zero_point=(0,) * cout)
    yq = graph.tensor("conv_q", (1, 4, 4, cout), "int8", scale=(0.1,), zero_point=(0,))
    y = graph.tensor("conv", (1, 4, 4, cout))
    graph.op(OPS.QUANTIZE, [x], [xq])
    graph.op(OPS.CONV_2D, [xq, wq, bq], [yq], OPTIONS.Conv2DOptions,
             {0: ("int8", PADDING.VALID), 1: ("int32", 1), 2: ("int32", 1), 3: ("int8", 0)})
    graph.op(OPS.DEQUANTIZE, [yq], [y])
    model = _save(graph, x, y, tmp_path / "int8_conv.tflite")
    cost = flopbench.count(model)
    assert cost.macs == 4 * 4 * cout * k * k * cin  # output positions × outputs × kernel × inputs
    assert cost.params == weights.size + bias.size
    assert cost.weight_bytes_by_type["i8"] == weights.nbytes
    # the rest is f32 as OpenVINO keeps it: the int32 bias dequantized (4 B a value), one scale per
    # output channel, and the two (de)quantization steps' four range values each
    assert cost.weight_bytes_by_type["f32"] == 4 * bias.size + 4 * len(scales) + 2 * 4 * 4
    assert main(["flops", model]) == 0
    assert "i8" in capsys.readouterr().out


def test_fp16_weights_are_counted_at_two_bytes_each(tmp_path):
    """TFLite's fp16 post-training quantization: fp16 constants DEQUANTIZE'd into a CONV_2D."""
    rng = np.random.default_rng(4)
    cin, cout, k = 2, 3, 3
    weights = rng.standard_normal((cout, k, k, cin)).astype(np.float16)
    bias = rng.standard_normal(cout).astype(np.float16)
    graph = TFLiteGraph()
    x = graph.tensor("image", (1, 5, 5, cin))
    w16 = graph.constant("conv/weights_f16", weights)
    b16 = graph.constant("conv/bias_f16", bias)
    w = graph.tensor("conv/weights", weights.shape)
    b = graph.tensor("conv/bias", bias.shape)
    y = graph.tensor("conv", (1, 3, 3, cout))
    graph.op(OPS.DEQUANTIZE, [w16], [w])
    graph.op(OPS.DEQUANTIZE, [b16], [b])
    graph.op(OPS.CONV_2D, [x, w, b], [y], OPTIONS.Conv2DOptions,
             {0: ("int8", PADDING.VALID), 1: ("int32", 1), 2: ("int32", 1), 3: ("int8", 0)})
    cost = flopbench.count(_save(graph, x, y, tmp_path / "fp16_conv.tflite"))
    assert cost.macs == 3 * 3 * cout * k * k * cin
    assert cost.params == weights.size + bias.size
    assert cost.weight_bytes_by_type == {"f16": weights.nbytes + bias.nbytes}


# ---- custom ops: counted from the file's own shapes, or named and left out ----------------------

def _transpose_conv_bias_file(path, rng) -> tuple[str, np.ndarray, np.ndarray]:
    """MediaPipe's Convolution2DTransposeBias (a custom op: weights [C_out, kh, kw, C_in], bias, and
    padding, stride_w, stride_h as three int32 in its options), SAME, stride 2, then a RELU."""
    import struct

    weights = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(2).astype(np.float32)
    graph = TFLiteGraph()
    x = graph.tensor("image", (1, 4, 4, 3))
    w = graph.constant("up/weights", weights)
    b = graph.constant("up/bias", bias)
    y = graph.tensor("up/output", (1, 8, 8, 2))
    graph.op("Convolution2DTransposeBias", [x, w, b], [y], custom_options=struct.pack("<iii", 1, 2, 2))
    z = graph.tensor("up/relu", (1, 8, 8, 2))
    graph.op(OPS.RELU, [y], [z])
    return _save(graph, x, z, path), weights, bias


def test_mediapipes_transpose_conv_bias_is_counted_from_its_shapes_and_runs_on_openvino(tmp_path):
    rng = np.random.default_rng(5)
    model, weights, bias = _transpose_conv_bias_file(tmp_path / "upsample.tflite", rng)
    x = rng.standard_normal((1, 4, 4, 3)).astype(np.float32)
    macs, full = _transpose_conv_macs(x, weights, stride=2)  # 9x9 before SAME crops it to 8x8 (the odd row at the end)
    cost = flopbench.count(model)
    assert cost.macs == macs == 1 * 3 * 4 * 4 * 2 * 3 * 3
    assert (cost.params, cost.weight_bytes) == (weights.size + bias.size, weights.nbytes + bias.nbytes)
    assert cost.not_counted == {}
    deconv = next(layer for layer in cost.layers if layer.macs)
    assert (deconv.type, deconv.name) == ("ConvTranspose2D", "up/output")  # the name of the file's op (its output tensor)
    np.save(tmp_path / "x.npy", x)
    ran = flopbench.run(model, inputs=[str(tmp_path / "x.npy")], precision="f32", niter=1)
    np.testing.assert_allclose(next(iter(ran.outputs.values())), np.maximum(full[:, :8, :8] + bias, 0), rtol=1e-4, atol=1e-4)


def test_a_custom_op_nobody_knows_is_named_and_left_out_of_the_count(tmp_path, capsys):
    graph = TFLiteGraph()
    x = graph.tensor("x", (1, 4))
    y = graph.tensor("y", (1, 4))
    w = graph.constant("fc/weights", np.ones((3, 4), np.float32))
    z = graph.tensor("z", (1, 3))
    graph.op("MyPostprocess", [x], [y])
    graph.op(OPS.FULLY_CONNECTED, [y, w, -1], [z], OPTIONS.FullyConnectedOptions, {0: ("int8", 0)})
    model = _save(graph, x, z, tmp_path / "custom.tflite")
    cost = flopbench.count(model)
    assert cost.macs == 4 * 3  # what follows the custom op is counted, from the shapes the file gives it
    assert cost.not_counted == {"MyPostprocess": 1}
    assert main(["flops", model]) == 0
    assert "Not counted (no formula): MyPostprocess ×1" in capsys.readouterr().out
    # nothing can run it, or write it as an IR: refused in one line, before anything is written
    for argv in (["run", model, "-niter", "1"], ["quantize", model, "-o", str(tmp_path / "q.xml")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "custom op(s) MyPostprocess ×1" in err[0], err
    assert not list(tmp_path.glob("q.*"))


# ---- the file's own names ----------------------------------------------------------------------

def test_layers_of_a_tflite_file_have_the_files_names(tmp_path):
    from flopbench import zoo

    zoo.write_zoo_model("sep_cnn", tmp_path, fmt="tflite")
    cost = flopbench.count(tmp_path / "sep_cnn.tflite")
    assert [layer.name for layer in cost.layers] == ["conv1", "conv2", "flatten", "fc1/bias/MatMul/Reshape", "fc1/bias",
                                                     "fc2/bias/MatMul/Reshape", "fc2/bias", "probabilities"]
    assert [part.name for part in cost.layers[0].parts] == ["conv1/depthwise", "conv1/bias"]  # the ops' output tensors
    again = flopbench.count(tmp_path / "sep_cnn.tflite")
    assert [op.name for op in again.ops] == [op.name for op in cost.ops]
    assert len({op.name for op in cost.ops}) == len(cost.ops)


def test_the_flatbuffer_reader_reads_what_the_schema_package_reads(tmp_path):
    """flopbench reads a .tflite's names, shapes, weights and ops by the flatbuffer format's own
    rules; the `tflite` package's generated schema code is the independent reading."""
    from flopbench import zoo
    from flopbench.model.flatbuffer import BUILTIN_CODES, read_flatbuffer

    zoo.write_zoo_model("mobilenet_v2", tmp_path, fmt="tflite", resolution=32)
    path = next(tmp_path.glob("*.tflite"))
    ours = read_flatbuffer(path)
    model = tflite.Model.GetRootAs(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    assert len(ours.tensors) == graph.TensorsLength() and len(ours.ops) == graph.OperatorsLength()
    for i, tensor in enumerate(ours.tensors):
        theirs = graph.Tensors(i)
        assert tensor.name == theirs.Name().decode() and tensor.shape == tuple(theirs.ShapeAsNumpy())
        data = model.Buffers(theirs.Buffer()).DataAsNumpy()
        assert (tensor.data is None) == (not isinstance(data, np.ndarray) or data.size == 0)
        if tensor.data is not None:
            assert tensor.data.tobytes() == data.tobytes()
    names = {value: name for name, value in vars(OPS).items() if not name.startswith("_")}
    for i, op in enumerate(ours.ops):
        theirs = graph.Operators(i)
        assert op.code == names[model.OperatorCodes(theirs.OpcodeIndex()).BuiltinCode()]
        assert op.inputs == tuple(theirs.InputsAsNumpy()) and op.outputs == tuple(theirs.OutputsAsNumpy())
    assert all(getattr(OPS, name) == code for code, name in BUILTIN_CODES.items())
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(path.read_bytes()[:3000])
    assert read_flatbuffer(truncated) is None
