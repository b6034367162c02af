"""LiteRT as a third engine, on .tflite files the zoo writes (no TensorFlow) and a few built here,
run by the real LiteRT interpreter. The truths come from elsewhere: the exercise's FLOPs, OpenVINO's
and ONNX Runtime's outputs for the same network, numpy for a quantized convolution, the settings
asked for on the command line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert", reason="LiteRT is not installed: pip install 'flopbench[litert]'")
pytest.importorskip("tflite", reason="the tflite schema package is not installed: pip install 'flopbench[litert]'")

import flopbench  # noqa: E402
from flopbench import zoo  # noqa: E402
from flopbench.cli.main import main  # noqa: E402
from flopbench.errors import EngineError, ProfilingError  # noqa: E402
from flopbench.measure.engines import EngineConfig, get_engine  # noqa: E402
from flopbench.zoo.tflite_file import TFLiteGraph, serialize  # noqa: E402

SEP_CNN_FLOPS = 926_808  # the exercise's total: 25,688 + 161,280 + 737,280 + 2,560
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tflite_dir(tmp_path_factory, zoo_dir):
    folder = tmp_path_factory.mktemp("tflite")
    zoo.write_zoo_model("sep_cnn", folder, fmt="tflite")
    zoo.write_zoo_model("mobilenet_v1", folder, fmt="tflite", resolution=96)
    for name in ("sep_cnn.xml", "sep_cnn.bin", "sep_cnn.onnx"):
        (folder / name).write_bytes((zoo_dir / name).read_bytes())
    return folder


def _run_cli(*argv) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flopbench", *map(str, argv)], capture_output=True, text=True, cwd=REPO, timeout=300)


# ---- the zoo's .tflite files -------------------------------------------------------------------

def test_the_zoo_writes_the_same_tflite_bytes_from_build_to_build(tflite_dir, tmp_path):
    again = zoo.write_zoo_model("sep_cnn", tmp_path, fmt="tflite")
    assert again.tflite.read_bytes() == (tflite_dir / "sep_cnn.tflite").read_bytes()
    assert again.tflite.read_bytes()[4:8] == b"TFL3"  # the flatbuffer's file identifier
    assert again.paths == [again.tflite, again.image]


def test_sep_cnn_as_tflite_counts_the_exercises_flops(tflite_dir, capsys):
    cost = flopbench.count(tflite_dir / "sep_cnn.tflite")
    assert cost.total_flops == SEP_CNN_FLOPS == flopbench.count(tflite_dir / "sep_cnn.xml").total_flops
    assert main(["flops", str(tflite_dir / "sep_cnn.tflite")]) == 0
    assert f"Total: {SEP_CNN_FLOPS:,} FLOPs" in capsys.readouterr().out


def test_sep_cnn_on_litert_gives_openvinos_top_class(tflite_dir):
    image = [str(tflite_dir / "image.npy")]
    on_litert = flopbench.run(tflite_dir / "sep_cnn.tflite", engine="litert", inputs=image, niter=3)
    on_openvino = flopbench.run(tflite_dir / "sep_cnn.xml", inputs=image, niter=3, precision="f32")
    litert_out, openvino_out = (next(iter(r.outputs.values())) for r in (on_litert, on_openvino))
    assert litert_out.argmax() == openvino_out.argmax()
    np.testing.assert_allclose(litert_out, openvino_out, atol=1e-5)
    assert on_litert.settings.engine == "litert" and on_litert.settings.precision == "f32"


def test_mobilenet_v1_as_tflite_computes_what_the_onnx_file_computes(tflite_dir, tmp_path):
    """BatchNorm folded, stride-2 padding made explicit, NCHW kept at the input: the same numbers."""
    import onnxruntime
    from ai_edge_litert.interpreter import Interpreter

    onnx_path = tmp_path / "mobilenet_v1.onnx"
    onnx_path.write_bytes(zoo.build_onnx("mobilenet_v1", resolution=96).SerializeToString())
    x = np.random.default_rng(0).standard_normal((1, 3, 96, 96)).astype(np.float32)
    interpreter = Interpreter(model_path=str(tflite_dir / f"{zoo.file_stem('mobilenet_v1', resolution=96)}.tflite"))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    ours = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    reference = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    assert ours.argmax() == reference.argmax()
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    assert flopbench.count(tflite_dir / f"{zoo.file_stem('mobilenet_v1', resolution=96)}.tflite").total_flops == flopbench.count(onnx_path).total_flops


# ---- the engine on the command line ------------------------------------------------------------

def test_bench_on_litert_reports_its_settings_and_call_latency(tflite_dir, tmp_path):
    out = tmp_path / "bench.json"
    done = _run_cli("bench", tflite_dir / "sep_cnn.tflite", "--engine", "litert", "-nthreads", "1", "-t", "0.2",
                    "-niter", "20", "--json", out)
    assert done.returncode == 0, done.stderr
    assert "XNNPACK delegate" not in done.stderr  # LiteRT's own INFO line is kept out of the output
    result = json.loads(out.read_text())["results"][0]
    assert result["engine"]["engine"] == "litert" and result["engine"]["precision"] == "f32"
    assert result["engine"]["threads"] == 1 and result["engine"]["executed_precision"] == "f32"
    assert result["engine_latency"] is None and result["call_latency"]["median_ns"] > 0
    assert result["iterations"] >= 20
    assert "ai-edge-litert" in json.loads(out.read_text())["metadata"]["versions"]


def test_throughput_mode_runs_one_interpreter_per_request(tflite_dir):
    from flopbench.measure.bench import bench
    from flopbench.measure.policy import RunPolicy

    report = bench(tflite_dir / "sep_cnn.tflite", engines=("litert",), config=EngineConfig(hint="throughput", nireq=2),
                   policy=RunPolicy(warmup_iterations=2, min_duration_s=0.1, min_iterations=10))
    result = report.results[0]
    assert result.settings.requests == 2 and result.settings.threads == 1 and result.iterations >= 10


def test_three_engines_on_a_tflite_refuse_onnx_runtime_in_one_line(tflite_dir):
    done = _run_cli("bench", tflite_dir / "sep_cnn.tflite", "--engine", "openvino,onnxruntime,litert", "-t", "0.1")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "flopbench: error: ONNX Runtime cannot run sep_cnn.tflite: it runs ONNX files only; use --engine openvino, or give the model as .onnx"]


def test_compare_measures_each_file_on_the_engines_that_run_it_at_f32(tflite_dir):
    from flopbench.measure.policy import RunPolicy
    from flopbench.comparing.compare import compare

    models = [tflite_dir / "sep_cnn.tflite", tflite_dir / "sep_cnn.onnx", tflite_dir / "sep_cnn.xml"]
    result = compare(models, engines=("openvino", "onnxruntime", "litert"),
                     policy=RunPolicy(warmup_iterations=1, min_duration_s=0.05, min_iterations=5))
    measured = {(r.settings.engine, Path(r.model).suffix) for r in result.results}
    assert measured == {("openvino", ".tflite"), ("openvino", ".onnx"), ("openvino", ".xml"), ("onnxruntime", ".onnx"),
                        ("litert", ".tflite")}
    assert {r.settings.precision for r in result.results} == {"f32"}
    assert result.row("latency_median_ns", "litert").values[1:] == (None, None)
    assert result.row("flops", None).values == (SEP_CNN_FLOPS,) * 3


def test_profile_on_litert_is_refused_with_the_reason(tflite_dir):
    with pytest.raises(ProfilingError, match="exposes no per-op timer"):
        flopbench.profile(tflite_dir / "sep_cnn.tflite", engine="litert")
    done = _run_cli("profile", tflite_dir / "sep_cnn.tflite", "--engine", "litert")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    done = _run_cli("predict", tflite_dir / "sep_cnn.tflite", "--engine", "litert")  # calibrated from per-node times
    assert done.returncode == 2 and "exposes no per-op timer" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = _run_cli("machine", "--engine", "litert")  # a roofline is measured from per-node times
    assert done.returncode == 2 and "exposes no per-op timer" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_report_on_litert_says_why_it_has_no_profile(tflite_dir, tmp_path):
    done = _run_cli("report", tflite_dir / "sep_cnn.tflite", "--engine", "litert", "-t", "0.1", "-niter", "5",
                    "-o", tmp_path / "r.html")
    assert done.returncode == 0, done.stderr
    assert "no per-layer profile on litert" in (tmp_path / "r.html").read_text()


def test_an_engine_file_kind_or_device_it_cannot_run_is_refused(tflite_dir):
    engine = get_engine("litert")
    with pytest.raises(EngineError, match="runs TFLite files"):
        engine.check_model(str(tflite_dir / "sep_cnn.onnx"))
    with pytest.raises(EngineError, match="not a setting"):
        engine.compile(str(tflite_dir / "sep_cnn.tflite"), {}, EngineConfig(precision="bf16"))
    runner = engine.compile(str(tflite_dir / "sep_cnn.tflite"), {}, EngineConfig(profile=True))
    try:  # predict reads the compiled graph: LiteRT shows none, and says so
        with pytest.raises(ProfilingError, match="does not show the graph it compiled"):
            runner.compiled_nodes()
    finally:
        runner.close()
    done = _run_cli("run", tflite_dir / "sep_cnn.tflite", "--engine", "litert", "-d", "GPU")
    assert done.returncode == 2 and "device 'GPU'" in done.stderr


# ---- bad .tflite files: one line, exit 2 -------------------------------------------------------

def _custom_op_file(path: Path) -> Path:
    graph = TFLiteGraph()
    x = graph.tensor("x", (1, 4))
    y = graph.tensor("y", (1, 4))
    graph.op("Convolution2DTransposeBias", [x], [y])
    graph.inputs, graph.outputs = (x,), (y,)
    path.write_bytes(serialize(graph, "a custom op"))
    return path


def _dynamic_length_file(path: Path) -> Path:
    """y = x + x for x of shape [1, ?]: a dimension other than the batch is dynamic."""
    import tflite

    graph = TFLiteGraph()
    x = graph.tensor("x", (1, 1), signature=(1, -1))
    y = graph.tensor("y", (1, 1), signature=(1, -1))
    graph.op(tflite.BuiltinOperator.ADD, [x, x], [y], tflite.BuiltinOptions.AddOptions, {0: ("int8", 0)})
    graph.inputs, graph.outputs = (x,), (y,)
    path.write_bytes(serialize(graph, "a dynamic length"))
    return path


@pytest.mark.parametrize("command", [["run", "--engine", "litert"], ["bench", "--engine", "litert", "-t", "0.1"], ["flops"],
                                     ["bench", "--engine", "openvino,litert", "-t", "0.1"], ["run", "--engine", "openvino"]])
def test_bad_tflite_files_get_one_line_and_exit_2(tflite_dir, tmp_path, command):
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes((tflite_dir / "sep_cnn.tflite").read_bytes()[:5000])
    custom = _custom_op_file(tmp_path / "custom.tflite")
    dynamic = _dynamic_length_file(tmp_path / "dynamic.tflite")
    for model, says in ((truncated, "truncated.tflite"), (custom, "Convolution2DTransposeBias"), (dynamic, "--shape")):
        if command == ["flops"] and model is custom:
            continue  # counted around the custom op, which is named as not counted (tests/test_tflite_counting.py)
        done = _run_cli(command[0], model, *command[1:])
        assert done.returncode == 2, (model, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("flopbench: error:") and says in lines[0], lines


def test_a_dynamic_dimension_runs_with_the_shape_given(tmp_path):
    dynamic = _dynamic_length_file(tmp_path / "dynamic.tflite")
    x = np.array([[1, 2, 3, 4, 5]], np.float32)
    np.save(tmp_path / "x.npy", x)
    result = flopbench.run(dynamic, engine="litert", shape="x:1x5", inputs=[str(tmp_path / "x.npy")], niter=2)
    np.testing.assert_array_equal(next(iter(result.outputs.values())), 2 * x)


# ---- a quantized file runs on 8-bit kernels ----------------------------------------------------

def _quantized_conv_file(path: Path, weights: np.ndarray, bias: np.ndarray) -> Path:
    """float input → QUANTIZE (int8) → 1×1 CONV_2D with per-channel int8 weights → DEQUANTIZE → float output."""
    import tflite

    ops, options = tflite.BuiltinOperator, tflite.BuiltinOptions
    channels_out, channels_in = weights.shape
    x_scale, y_scale = 1 / 64, 1 / 16
    w_scales = np.abs(weights).max(axis=1) / 127
    graph = TFLiteGraph()
    x = graph.tensor("x", (1, 4, 4, channels_in))
    xq = graph.tensor("x_q", (1, 4, 4, channels_in), "int8", scale=(x_scale,), zero_point=(0,))
    wq = graph.constant("w_q", np.rint(weights / w_scales[:, None]).astype(np.int8).reshape(channels_out, 1, 1, channels_in),
                        scale=tuple(w_scales), zero_point=(0,) * channels_out)
    bq = graph.constant("b_q", np.rint(bias / (x_scale * w_scales)).astype(np.int32),
                        scale=tuple(x_scale * w_scales), zero_point=(0,) * channels_out)
    yq = graph.tensor("y_q", (1, 4, 4, channels_out), "int8", scale=(y_scale,), zero_point=(0,))
    y = graph.tensor("y", (1, 4, 4, channels_out))
    graph.op(ops.QUANTIZE, [x], [xq])
    graph.op(ops.CONV_2D, [xq, wq, bq], [yq], options.Conv2DOptions,
             {0: ("int8", tflite.Padding.VALID), 1: ("int32", 1), 2: ("int32", 1), 3: ("int8", 0)})
    graph.op(ops.DEQUANTIZE, [yq], [y])
    graph.inputs, graph.outputs = (x,), (y,)
    path.write_bytes(serialize(graph, "an int8 convolution"))
    return path


def test_a_quantized_file_runs_in_int8_and_says_so(tmp_path):
    rng = np.random.default_rng(1)
    weights = rng.uniform(-1, 1, (3, 5)).astype(np.float32)
    bias = rng.uniform(-0.5, 0.5, 3).astype(np.float32)
    model = _quantized_conv_file(tmp_path / "int8_conv.tflite", weights, bias)
    x = rng.uniform(-1, 1, (1, 4, 4, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    result = flopbench.run(model, engine="litert", inputs=[str(tmp_path / "x.npy")], niter=2)
    assert result.settings.executed_precision == "int8 (quantized model), float ops in f32"
    assert flopbench.count(model).macs == 4 * 4 * 5 * 3  # a 1x1 convolution: positions x inputs x outputs
    expected = x @ weights.T + bias  # the float convolution the int8 one approximates
    out = next(iter(result.outputs.values()))
    assert np.abs(out - expected).max() < 0.1  # int8 steps: inputs by 1/64, outputs by 1/16
    assert np.abs(out - expected).max() > 0  # and it did run in integers


def test_fp16_weights_are_counted_as_stored_and_run_dequantized(tmp_path):
    """A DEQUANTIZE of fp16 weights into a FULLY_CONNECTED, as TFLite's fp16 post-training quantization writes it."""
    import tflite

    rng = np.random.default_rng(2)
    weights = rng.uniform(-1, 1, (3, 5)).astype(np.float16)
    graph = TFLiteGraph()
    x = graph.tensor("x", (1, 5))
    stored = graph.constant("w_f16", weights)
    dequantized = graph.tensor("w", (3, 5))
    y = graph.tensor("y", (1, 3))
    graph.op(tflite.BuiltinOperator.DEQUANTIZE, [stored], [dequantized])
    graph.op(tflite.BuiltinOperator.FULLY_CONNECTED, [x, dequantized, -1], [y], tflite.BuiltinOptions.FullyConnectedOptions,
             {0: ("int8", 0)})
    graph.inputs, graph.outputs = (x,), (y,)
    model = tmp_path / "fp16_weights.tflite"
    model.write_bytes(serialize(graph, "fp16 weights"))
    cost = flopbench.count(model)
    assert (cost.macs, cost.params, cost.weight_bytes) == (weights.size, weights.size, weights.nbytes)
    data = rng.uniform(-1, 1, (1, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", data)
    result = flopbench.run(model, engine="litert", inputs=[str(tmp_path / "x.npy")], niter=2)
    assert result.settings.executed_precision == "f32 (fp16 weights dequantized to f32)"
    np.testing.assert_allclose(next(iter(result.outputs.values())), data @ weights.astype(np.float32).T, rtol=1e-6)


def test_litert_and_openvino_agree_on_mediapipes_transpose_conv_bias(tmp_path):
    """LiteRT has MediaPipe's Convolution2DTransposeBias among its ops; OpenVINO runs what
    flopbench makes of it from the file's shapes: the two give the same numbers."""
    import struct

    rng = np.random.default_rng(6)
    graph = TFLiteGraph()
    x = graph.tensor("image", (1, 5, 5, 3))
    w = graph.constant("up/weights", rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    b = graph.constant("up/bias", rng.standard_normal(4).astype(np.float32))
    y = graph.tensor("up/output", (1, 10, 10, 4))
    graph.op("Convolution2DTransposeBias", [x, w, b], [y], custom_options=struct.pack("<iii", 1, 2, 2))
    graph.inputs, graph.outputs = (x,), (y,)
    model = tmp_path / "upsample.tflite"
    model.write_bytes(serialize(graph, "a MediaPipe custom op"))
    np.save(tmp_path / "x.npy", rng.standard_normal((1, 5, 5, 3)).astype(np.float32))
    outputs = [next(iter(flopbench.run(model, engine=engine, inputs=[str(tmp_path / "x.npy")], precision="f32", niter=1).outputs.values()))
               for engine in ("litert", "openvino")]
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-4, atol=1e-4)


# ---- f16: XNNPACK's half-precision inference ---------------------------------------------------

def test_f16_runs_in_half_precision_through_xnnpack_and_says_so(tflite_dir, tmp_path):
    image = [str(tflite_dir / "image.npy")]
    try:
        half = flopbench.run(tflite_dir / "sep_cnn.tflite", engine="litert", inputs=image, niter=2, precision="f16")
    except EngineError as exc:  # a CPU without XNNPACK's fp16 path: refused with LiteRT's reason
        assert "in f16 on this CPU" in str(exc) and "\n" not in str(exc)
        pytest.skip(f"XNNPACK has no fp16 inference on this CPU: {exc}")
    full = flopbench.run(tflite_dir / "sep_cnn.tflite", engine="litert", inputs=image, niter=2, precision="f32")
    (h,), (f,) = half.outputs.values(), full.outputs.values()
    assert half.settings.precision == "f16" and half.settings.executed_precision.startswith("f16 (XNNPACK FORCE_FP16")
    assert h.argmax() == f.argmax()
    np.testing.assert_allclose(h, f, atol=5e-3)  # fp16 has 11 significant bits
    assert not np.array_equal(h, f)  # and it did round in half precision: the same numbers would mean f32 ran
    out = tmp_path / "f16.json"
    done = _run_cli("bench", tflite_dir / "sep_cnn.tflite", "--engine", "litert", "--precision", "f16", "-t", "0.1", "-niter", "10",
                    "--json", out, "-hint", "throughput", "-nireq", "2")
    assert done.returncode == 0, done.stderr
    assert "INFO:" not in done.stderr and "WARNING: [" not in done.stderr  # LiteRT's C++ log stays out of the output
    engine = json.loads(out.read_text())["results"][0]["engine"]
    assert (engine["precision"], engine["executed_precision"][:3]) == ("f16", "f16")
    assert "f16 (XNNPACK FORCE_FP16" in done.stdout


def test_f16_of_a_file_litert_cannot_run_is_one_line_with_litert_s_reason(tmp_path):
    custom = _custom_op_file(tmp_path / "custom.tflite")
    done = _run_cli("run", custom, "--engine", "litert", "--precision", "f16")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Convolution2DTransposeBias" in lines[0] and "INFO" not in lines[0], lines
