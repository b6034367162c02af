"""Issue 12, "What a new user hit": each numbered item, tested as the issue states it."""
import json
import subprocess
import sys

import numpy as np
import pytest

from flopbench.measure.bench import bench
from flopbench.measure.engines import EngineConfig
from flopbench.measure.policy import RunPolicy

QUICK = RunPolicy(warmup_iterations=1, min_duration_s=0.05, min_iterations=3)


def flopbench(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "flopbench", *map(str, args)], capture_output=True, text=True, timeout=timeout)


def cpu_default_precision() -> str:
    """What OpenVINO's CPU plugin infers in when told nothing (bf16 on a CPU that has it)."""
    import openvino as ov

    value = str(ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT"))
    return {"<Type: 'bfloat16'>": "bf16", "<Type: 'float32'>": "f32", "<Type: 'float16'>": "f16"}.get(value, value)


def wait_for_line(process, needle: str, seconds: float = 120) -> str:
    """The first stderr line holding `needle` (flopbench says when a measurement is under way)."""
    import select
    import time

    deadline, line = time.time() + seconds, ""
    while time.time() < deadline and needle not in line:
        if select.select([process.stderr], [], [], 1.0)[0]:
            line = process.stderr.readline()
            if not line:
                break
    return line


# --- 1. like with like ------------------------------------------------------------------------

def test_two_engines_without_precision_run_the_same_precision(sep_cnn_onnx, tmp_path):
    target = tmp_path / "b.json"
    done = flopbench("bench", sep_cnn_onnx, "--engine", "openvino,onnxruntime", "-t", "0.1", "-niter", "3", "--json", target)
    assert done.returncode == 0, done.stderr
    results = json.loads(target.read_text())["results"]
    assert [r["engine"]["engine"] for r in results] == ["openvino", "onnxruntime"]
    assert results[0]["engine"]["precision"] == results[1]["engine"]["precision"] == "f32"
    assert all(r["precision_matched"] for r in results)
    assert "Precision" in done.stdout  # a column of the table
    assert "f32 for every engine" in done.stdout  # said on the settings line


def test_one_engine_keeps_its_default_and_shows_it(sep_cnn_onnx):
    report = bench(sep_cnn_onnx, engines=["openvino"], policy=QUICK)
    result = report.results[0]
    assert result.settings.precision == cpu_default_precision()
    assert not result.precision_matched
    from flopbench.render.text import render_text
    from flopbench.render.bench import bench_table

    text = render_text(bench_table(report))
    assert "Precision" in text and cpu_default_precision() in text


def test_engines_that_still_differ_are_named_in_a_warning(sep_cnn_onnx):
    # ONNX Runtime's CPU provider has no bf16: asked for it, it runs f32 and the table says so
    report = bench(sep_cnn_onnx, engines=["openvino", "onnxruntime"], config=EngineConfig(precision="bf16"), policy=QUICK)
    ov, ort = report.results
    assert ort.settings.precision == "f32"
    named = [w for r in report.results for w in r.warnings if f"openvino {ov.settings.precision}" in w and "onnxruntime f32" in w]
    if cpu_default_precision() == "bf16":  # this CPU has bf16, so OpenVINO uses it
        assert ov.settings.precision == "bf16"
        assert len(named) == 2, [r.warnings for r in report.results]  # on both results
    else:
        assert named == []


# --- 2. an HWC image is never scrambled ---------------------------------------------------------

@pytest.fixture(scope="module")
def rgb_model(tmp_path_factory):
    """A 1x3x224x224 image input through a 1x1 conv that keeps each channel apart (weights 1, 10, 100):
    a scrambled image gives other outputs than the transposed one."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.zeros((3, 3, 1, 1), np.float32)
    for c in range(3):
        weights[c, c, 0, 0] = 10.0 ** c
    graph = helper.make_graph([helper.make_node("Conv", ["input", "w"], ["y"])], "rgb",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 224, 224])],
                              [numpy_helper.from_array(weights, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp("rgb") / "rgb.onnx"
    onnx.save(model, path)
    return path


def test_size_one_dimensions_are_fitted(sep_cnn_xml, tmp_path):
    image = np.arange(28 * 28, dtype=np.float32).reshape(28, 28, 1) / 784  # the exercise's image with a channel axis last
    np.save(tmp_path / "hwc.npy", image)
    done = flopbench("run", sep_cnn_xml, "-i", tmp_path / "hwc.npy", "-niter", "1")
    assert done.returncode == 0, done.stderr


def test_each_input_message_is_true_of_the_array_it_is_about(sep_cnn_xml, tmp_path):
    """A wrong-size array is told the shape to give, and an array of that shape then runs; a flat
    array of the right size is told it is flat, not that its axes are in another order."""
    np.save(tmp_path / "wrong.npy", np.zeros(100, dtype=np.float32))
    done = flopbench("run", sep_cnn_xml, "-i", tmp_path / "wrong.npy", "-niter", "1")
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and "1x1x28x28" in line and "as many elements" not in line, line
    np.save(tmp_path / "flat.npy", np.zeros(28 * 28, dtype=np.float32))
    done = flopbench("run", sep_cnn_xml, "-i", tmp_path / "flat.npy", "-niter", "1")
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and "flat" in line and "another order of axes" not in line and "1x1x28x28" in line, line
    np.save(tmp_path / "shaped.npy", np.zeros((1, 1, 28, 28), dtype=np.float32))  # what both messages ask for
    done = flopbench("run", sep_cnn_xml, "-i", tmp_path / "shaped.npy", "-niter", "1")
    assert done.returncode == 0, done.stderr


def test_a_transposed_image_is_refused_naming_both_shapes_and_layout(rgb_model, tmp_path):
    image = np.random.default_rng(0).random((224, 224, 3), dtype=np.float32)
    np.save(tmp_path / "hwc.npy", image)
    for command in (["run"], ["bench", "-t", "0.1", "-niter", "2"]):
        done = flopbench(*command, rgb_model, "-i", tmp_path / "hwc.npy")
        assert done.returncode == 2, done.stderr
        line = done.stderr.strip()
        assert len(line.splitlines()) == 1 and "224x224x3" in line and "1x3x224x224" in line and "--layout" in line, line


def test_layout_transposes_on_purpose(rgb_model, tmp_path):
    import onnxruntime

    image = np.random.default_rng(1).random((224, 224, 3), dtype=np.float32)
    np.save(tmp_path / "hwc.npy", image)
    target = tmp_path / "r.json"
    done = flopbench("run", rgb_model, "-i", tmp_path / "hwc.npy", "--layout", "input[HWC]", "--engine", "onnxruntime",
                     "-niter", "1", "--json", target)
    assert done.returncode == 0, done.stderr
    session = onnxruntime.InferenceSession(str(rgb_model), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"input": image.transpose(2, 0, 1)[None]})[0].reshape(-1)
    assert json.loads(target.read_text())["top_class"] == int(expected.argmax())
    # through the Python API, the layout of a batch dimension too
    from flopbench.measure.run import run

    result = run(rgb_model, inputs=[str(tmp_path / "hwc.npy")], engine="onnxruntime", niter=1, layout="input[NHWC]")
    np.testing.assert_allclose(next(iter(result.outputs.values())).reshape(-1), expected, rtol=1e-6)
    np.save(tmp_path / "nhwc.npy", image[None])
    result = run(rgb_model, inputs=[str(tmp_path / "nhwc.npy")], engine="onnxruntime", niter=1, layout="NHWC")
    np.testing.assert_allclose(next(iter(result.outputs.values())).reshape(-1), expected, rtol=1e-6)


def test_a_layout_that_does_not_fit_is_one_line(rgb_model, tmp_path):
    np.save(tmp_path / "hwc.npy", np.zeros((224, 224, 3), np.float32))
    for layout, needle in (("input[HWCX]", "--layout"), ("nosuch[HWC]", "nosuch"), ("input[HW]", "--layout")):
        done = flopbench("run", rgb_model, "-i", tmp_path / "hwc.npy", "--layout", layout)
        assert done.returncode == 2 and needle in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


# --- 3. a shared bias counted once by its source --------------------------------------------------

def shared_bias_model(folder):
    """Two convs that share one bias initializer (as exporters write identical biases once)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    initializers = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
                    for name, shape in (("w1", (8, 3, 3, 3)), ("w2", (8, 8, 3, 3)), ("b", (8,)))]
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w1", "b"], ["c1"], pads=[1, 1, 1, 1]),
                               helper.make_node("Conv", ["c1", "w2", "b"], ["y"], pads=[1, 1, 1, 1])], "shared",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, folder / "shared.onnx")
    return folder / "shared.onnx"


def test_a_shared_bias_is_counted_once(tmp_path):
    import onnx
    from onnx import numpy_helper

    import flopbench

    path = shared_bias_model(tmp_path)
    held = sum(numpy_helper.to_array(i).size for i in onnx.load(path).graph.initializer)  # what the file holds
    cost = flopbench.count(path)
    assert held == 8 * 3 * 9 + 8 * 8 * 9 + 8 == 800
    assert cost.params == held
    first, second = cost.layers
    assert (first.params, second.params) == (8 * 3 * 9 + 8, 8 * 8 * 9)  # the bias belongs to its first use


# --- 4. -t and -niter mean what they mean in benchmark_app ---------------------------------------

def fake_clock(step_ns):
    """A clock the step advances by `step_ns` per inference: the stopping rule, without real time."""
    now = [0]

    def clock():
        return now[0]

    def step():
        now[0] += step_ns

    return clock, step


def test_t_alone_stops_at_about_that_time_and_niter_alone_after_that_many():
    from flopbench.measure.policy import RunPolicy, run_sync

    clock, step = fake_clock(10_000_000)  # 10 ms an inference: 100 runs would take 1 s
    record = run_sync(step, RunPolicy.from_flags(seconds=0.2, warmup=0), clock_ns=clock)
    assert record.iterations == 20 and record.complete  # -t 0.2 alone: 0.2 s, not 100 runs
    clock, step = fake_clock(10_000_000)
    record = run_sync(step, RunPolicy.from_flags(niter=7, warmup=0), clock_ns=clock)
    assert record.iterations == 7 and record.complete  # -niter 7 alone: 7 runs, not 10 s
    clock, step = fake_clock(10_000_000)
    record = run_sync(step, RunPolicy.from_flags(seconds=0.2, niter=50, warmup=0), clock_ns=clock)
    assert record.iterations == 50  # both given: both met, as benchmark_app's loop does
    clock, step = fake_clock(10_000_000)
    record = run_sync(step, RunPolicy.from_flags(seconds=0.2, min_iterations=30, warmup=0), clock_ns=clock)
    assert record.iterations == 30  # MLPerf's minimum duration and minimum count, its own option
    assert RunPolicy.from_flags() == RunPolicy()  # neither: the default 10 s and 100 runs


def test_niter_alone_on_the_command_line(sep_cnn_xml, tmp_path):
    target = tmp_path / "b.json"
    done = flopbench("bench", sep_cnn_xml, "-niter", "7", "--warmup", "1", "--json", target)
    assert done.returncode == 0, done.stderr
    result = json.loads(target.read_text())["results"][0]
    assert result["iterations"] == 7 and result["policy"]["min_duration_s"] is None
    assert "too few runs" in done.stdout  # the verdict still says which percentiles 7 runs cannot back
    done = flopbench("bench", sep_cnn_xml, "-t", "0.1", "--min-iterations", "40", "--json", target)
    assert done.returncode == 0, done.stderr
    result = json.loads(target.read_text())["results"][0]
    assert result["iterations"] >= 40 and result["policy"] == {**result["policy"], "min_duration_s": 0.1, "min_iterations": 40}


# --- 5. interrupting run keeps what it measured --------------------------------------------------

def test_interrupted_run_prints_and_writes_what_it_measured(sep_cnn_xml, image_npy, tmp_path):
    import signal
    import time

    target = tmp_path / "r.json"
    process = subprocess.Popen([sys.executable, "-m", "flopbench", "run", str(sep_cnn_xml), "-i", str(image_npy), "-niter", "10000000",
                                "--json", str(target)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = wait_for_line(process, "Ctrl-C")
        assert "Ctrl-C" in line, line
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()  # never leave a ten-million-iteration run behind a failed test
    assert process.returncode == 130, err
    data = json.loads(target.read_text())
    from flopbench.results.schema import validate

    validate(data)
    assert data["complete"] is False and 0 < data["iterations"] < 10_000_000
    assert f"Time taken to run {data['iterations']} iterations" in out and "INCOMPLETE" in out
    import flopbench

    assert flopbench.load_result(target).complete is False


# --- 6. the smaller things ----------------------------------------------------------------------

def test_debug_is_accepted_anywhere_and_a_bad_file_is_still_exit_2(sep_cnn_xml, tmp_path):
    done = flopbench("flops", sep_cnn_xml, "--debug")
    assert done.returncode == 0 and "926,808" in done.stdout, done.stderr
    done = flopbench("flops", tmp_path / "missing.xml", "--debug")
    assert done.returncode == 2 and "Traceback" in done.stderr and "does not exist" in done.stderr


@pytest.mark.parametrize("args, needle", [
    (["flops", "{sep}", "-b", "8", "--shape", "input:2x1x28x28"], "-b 8"),
    (["flops", "{sep}", "--shape", "x:1,1,28,28"], "x:1x1x28x28"),
    (["flops", "{sep}", "{sep}"], "unrecognized arguments"),
    (["demo", "-o", "{tmp}/demo", "-niter", "100000000"], "-niter 100000000"),
])
def test_small_things_refused_in_one_line_with_one_prefix(args, needle, sep_cnn_xml, tmp_path):
    done = flopbench(*[a.format(sep=sep_cnn_xml, tmp=tmp_path) for a in args])
    assert done.returncode == 2, (done.stdout, done.stderr)
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and needle in line, line
    assert line.count("flopbench:") == 1, line  # one prefix
    assert "twice" not in line and done.stdout == ""  # nothing printed before the refusal


def test_an_interrupted_bench_names_the_engines_never_measured(sep_cnn_onnx, tmp_path):
    import signal
    import time

    target = tmp_path / "b.json"
    process = subprocess.Popen([sys.executable, "-m", "flopbench", "bench", str(sep_cnn_onnx), "--engine", "openvino,onnxruntime",
                                "-t", "60", "--json", str(target)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = wait_for_line(process, "measuring")
        assert "measuring openvino" in line, line
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    data = json.loads(target.read_text())
    assert [r["engine"]["engine"] for r in data["results"]] == ["openvino"]
    assert data["not_measured"] == ["onnxruntime"]
    assert "onnxruntime was never measured" in out
    import flopbench

    assert flopbench.load_result(target).not_measured == ("onnxruntime",)


def test_hint_none_and_onnxruntime_streams_are_reported_as_they_are(sep_cnn_onnx):
    from flopbench.render.bench import bench_table
    from flopbench.render.text import render_text

    report = bench(sep_cnn_onnx, engines=["openvino", "onnxruntime"], config=EngineConfig(hint="none"), policy=QUICK)
    ov, ort = report.results
    assert ov.mode == "none" and ort.settings.streams is None
    text = render_text(bench_table(report), width=400)
    assert "latency mode" not in text and "no performance hint" in text
    ort_line = next(line for line in text.splitlines() if line.startswith("onnxruntime") and "precision" in line)
    assert "stream" not in ort_line


def test_zoo_says_the_size_before_writing(tmp_path):
    from flopbench import zoo

    done = flopbench("zoo", "mobilenet_v1", "-o", tmp_path)
    assert done.returncode == 0, done.stderr
    written = sum(p.stat().st_size for p in tmp_path.iterdir())
    said = done.stderr.splitlines()[0]
    planned = zoo.planned_bytes("mobilenet_v1")
    assert "writing" in said and f"{planned / 1e6:.0f} MB" in said, (said, written)
    assert abs(planned - written) < 0.01 * written  # the size said first is the size written


def test_long_layer_names_do_not_wrap_the_table(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    long_name = "backbone.stage4.block12.attention.projection.depthwise_convolution_with_a_very_long_name" * 2
    weights = numpy_helper.from_array(np.ones((4, 1, 3, 3), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], [long_name], name=long_name, group=4)], "long",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [helper.make_tensor_value_info(long_name, TensorProto.FLOAT, [1, 4, 6, 6])], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "long.onnx")
    done = flopbench("flops", tmp_path / "long.onnx")
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 2, done.stdout  # one line for the layer, one for the total
    assert "DepthwiseConv2D" in rows[0] and "2,592" in rows[0]  # its FLOPs: 4x6x6 outputs x 9 MACs x 2
    assert rows[0].split("│")[1].strip().startswith("backbone.stage4") and rows[0].split("│")[1].strip().endswith("very_long_name")


# --- 9. bench output as files -------------------------------------------------------------------

def test_bench_format_csv_markdown_json_and_o(sep_cnn_xml, tmp_path):
    import csv
    import io

    from flopbench import load_result

    done = flopbench("bench", sep_cnn_xml, "-niter", "5", "--warmup", "1", "--format", "csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == 1 and rows[0]["engine"] == "openvino" and int(rows[0]["runs"]) == 5
    assert float(rows[0]["min_ms"]) <= float(rows[0]["median_ms"]) <= float(rows[0]["max_ms"])
    assert rows[0]["flops_per_inference"] == "926808"
    target = tmp_path / "b.md"
    done = flopbench("bench", sep_cnn_xml, "-niter", "5", "--warmup", "1", "-o", target)
    assert done.returncode == 0, done.stderr
    text = target.read_text()
    assert text.startswith("| engine | precision |") and "| openvino |" in text
    target = tmp_path / "b.json"
    done = flopbench("bench", sep_cnn_xml, "-niter", "5", "--warmup", "1", "-o", target)
    assert done.returncode == 0, done.stderr
    report = load_result(target)
    assert report.results[0].iterations == 5
    done = flopbench("bench", sep_cnn_xml, "-niter", "5", "--format", "yaml")
    assert done.returncode == 2 and "unknown format" in done.stderr


# --- 8. Python objects in, notebook output out ----------------------------------------------------

def test_count_takes_an_openvino_model_and_prints_a_table(sep_cnn_xml):
    import openvino as ov

    import flopbench

    model = ov.Core().read_model(str(sep_cnn_xml))
    cost = flopbench.count(model)
    assert cost.total_flops == 926_808 and cost.params == flopbench.count(sep_cnn_xml).params
    printed = str(cost)
    assert "SeparableConv2D" in printed and "926,808" in printed and "conv1" in printed
    assert len(repr(cost)) < 300 and "926,808" in repr(cost)
    html = cost._repr_html_()
    assert html.lstrip().startswith("<") and "<table" in html and "conv1/depthwise" in html and "<script" not in html
    rows = cost.rows()
    assert [r["layer"] for r in rows][:3] == ["conv1", "conv1/depthwise", "conv1/pointwise"]
    assert sum(r["flops"] for r in rows if not r["parent"]) == 926_808
    frame = cost.to_pandas()
    assert list(frame["layer"]) == [r["layer"] for r in rows] and int(frame["flops"][0]) == 25_688
    assert [r["op"] for r in cost.rows(by="op")] == [op.name for op in cost.ops]


def test_bench_takes_an_openvino_model_and_engine_settings_as_keywords(sep_cnn_xml):
    import openvino as ov

    import flopbench

    model = ov.Core().read_model(str(sep_cnn_xml))
    report = flopbench.bench(model, engines=["openvino"], precision="f32", nthreads=1, niter=4, warmup=1)
    result = report.results[0]
    assert result.settings.precision == "f32" and result.settings.threads == 1 and result.iterations == 4
    assert result.flops_per_inference == 926_808
    assert "Latency" in str(report) and "<table" in report._repr_html_() and len(repr(report)) < 300
    assert report.to_pandas()["engine"].tolist() == ["openvino"]
    with pytest.raises(flopbench.FlopbenchError, match="nstream"):
        flopbench.bench(sep_cnn_xml, nstream=2, niter=2)  # a misspelt setting names the ones there are


def test_a_torch_module_with_an_example_input(tmp_path):
    import torch

    import flopbench

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3)
            self.fc = torch.nn.Linear(8 * 6 * 6, 10)

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x)).flatten(1))

    net = Net().eval()
    example = torch.zeros(2, 3, 8, 8)
    cost = flopbench.count(net, example_input=example)
    # by hand: conv 2x8x6x6 outputs x 3x3x3 MACs, linear 2x10 outputs x 288 MACs
    assert cost.macs == 2 * 8 * 6 * 6 * 27 + 2 * 10 * 288
    assert cost.params == sum(p.numel() for p in net.parameters())
    report = flopbench.bench(net, example_input=example, niter=2, warmup=1)
    assert report.results[0].batch == 2 and report.results[0].flops_per_inference == 2 * cost.macs
    with pytest.raises(flopbench.FlopbenchError, match="example_input"):
        flopbench.count(net)


def test_a_torch_modules_layers_are_named_by_their_module_path():
    # issue 22, item 13: `__module.features.0/aten::_convolution/Convolution` where a user expects `features.0`
    import torch

    import flopbench

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, groups=8))
            self.classifier = torch.nn.Linear(8 * 4 * 4, 10)

        def forward(self, x):
            return self.classifier(self.features(x).flatten(1))

    net = Net().eval()
    example = torch.zeros(1, 3, 8, 8)
    cost = flopbench.count(net, example_input=example)
    layers = {layer.name: layer for layer in cost.layers}
    modules = dict(net.named_modules())  # the truth: the paths torch itself names
    assert layers["features.0"].type == "Conv2D" and isinstance(modules["features.0"], torch.nn.Conv2d)
    assert layers["features.2"].type == "DepthwiseConv2D" and modules["features.2"].groups == 8
    assert layers["classifier"].type == "FullyConnected" and isinstance(modules["classifier"], torch.nn.Linear)
    assert layers["features.0"].macs == 8 * 6 * 6 * 3 * 9 and layers["classifier"].macs == 10 * 128
    assert not [name for name in layers if "__module" in name or "aten::" in name]
    assert not [op.name for op in cost.ops if "__module" in op.name]
    names = [op.name for op in cost.ops]
    assert len(names) == len(set(names))  # every op still has a name of its own
    report = flopbench.bench(net, example_input=example, niter=2, warmup=1)  # the engines run the renamed model
    assert report.results[0].flops_per_inference == cost.total_flops


# --- 7. LRN, and one answer for one network on the ONNX and the IR route ------------------------------

def routes_model(folder):
    """Conv with an all-zero bias -> Clip(0, 6) -> LRN(size 5) -> 1x1 conv with a real bias: what an
    exported AlexNet or MobileNet holds, small."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    initializers = [numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w"),
                    numpy_helper.from_array(np.zeros(8, np.float32), "zero_bias"),
                    numpy_helper.from_array(np.array(0, np.float32), "lo"), numpy_helper.from_array(np.array(6, np.float32), "hi"),
                    numpy_helper.from_array(rng.standard_normal((8, 8, 1, 1)).astype(np.float32), "w2"),
                    numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "b2")]
    nodes = [helper.make_node("Conv", ["x", "w", "zero_bias"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Clip", ["c", "lo", "hi"], ["r"], name="relu6"),
             helper.make_node("LRN", ["r"], ["n"], size=5, alpha=1e-4, beta=0.75, bias=1.0, name="lrn"),
             helper.make_node("Conv", ["n", "w2", "b2"], ["y"], name="conv2")]
    graph = helper.make_graph(nodes, "routes", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, folder / "routes.onnx")
    return folder / "routes.onnx"


def test_lrn_has_a_formula(tmp_path):
    import flopbench

    cost = flopbench.count(routes_model(tmp_path))
    lrn = cost.op("lrn")
    # by hand: 1x8x8x8 outputs, a window of 5 channels: 5 squares, 4 adds, then ·α/n, +k, ^β, ÷
    assert lrn.counted and lrn.other_flops == 8 * 8 * 8 * (2 * 5 + 3)
    assert cost.not_counted == {}


def test_one_network_gives_one_answer_on_the_onnx_and_the_ir_route(tmp_path):
    import openvino as ov

    import flopbench

    onnx_path = routes_model(tmp_path)
    ov.save_model(ov.convert_model(str(onnx_path)), str(tmp_path / "routes.xml"), compress_to_fp16=False)
    straight, converted = flopbench.count(onnx_path), flopbench.count(tmp_path / "routes.xml")
    # the IR has a Clamp where the ONNX reading has Maximum + Minimum, and no Add of the zero bias
    assert {op.type for op in converted.ops} >= {"Clamp"} and {op.type for op in straight.ops} >= {"Maximum", "Minimum"}
    assert sum(op.type == "Add" for op in straight.ops) == sum(op.type == "Add" for op in converted.ops) + 1
    for total in ("macs", "flops", "other_flops", "bytes_read", "bytes_written"):
        assert getattr(straight, total) == getattr(converted, total), total
    # parameters count what each file holds: the ONNX file holds the zero bias, the IR does not
    assert straight.params == converted.params + 8
    assert straight.op("conv").note and "zero" in straight.op("conv").note
