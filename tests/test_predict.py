"""`flopbench predict`: per-layer times and the latency from the model's compiled graph and this
machine's calibration, nothing run. The prediction of a small model on recorded calibration data
(tests/data/calibration_openvino_f32.json, written by `flopbench predict --calibrate --quick
--precision f32` on the development machine) is checked against a hand computation from that data."""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import flopbench
from flopbench.profiling.calibration import calibration_path, read_calibration
from flopbench.profiling.predict import predict
from flopbench.results.schema import validate

RECORDED = Path(__file__).parent / "data" / "calibration_openvino_f32.json"
CHANNELS, SIDE = 64, 28
ELEMENTS = CHANNELS * SIDE * SIDE
ACTIVATION = ELEMENTS * 4


@pytest.fixture(scope="module")
def residual_block(write_residual_block):
    """y = Relu(Conv3×3(x) + b + x): the residual block's Add and Relu run as one OpenVINO node."""
    return write_residual_block(CHANNELS, SIDE)


def _roof_time_us(calibration, flops, moved, working_set):
    """The hand computation of the roof: max(FLOPs / f32 peak, bytes / the bandwidth of the level
    that holds the working set), in µs, from the recorded data."""
    roof = calibration.roofline
    where = next(i for i, level in enumerate(roof.levels) if level.holds_from_bytes < working_set
                 and (level.holds_to_bytes is None or working_set <= level.holds_to_bytes))
    level = roof.levels[where]
    # a cache is never slower than the levels beyond it (the recorded roofline, measured under load, has
    # L1 < L2 < L3): a slower plateau is taken at the fastest level beyond it
    bandwidth = max(other.bandwidth_gb_per_s for other in roof.levels[where:])
    compute = flops / (roof.peaks["f32"].gflops_per_s * 1e3)
    memory = moved / (bandwidth * 1e3)
    return max(compute, memory), level.name


def _fitted(calibration, kind, nodes, roof_us):
    """The calibrated model by hand: the class's fixed cost per engine node plus its slope × the roof time."""
    fit = calibration.fits[kind]
    return fit.fixed_us * nodes + fit.slope * roof_us


def test_the_prediction_on_recorded_calibration_is_the_hand_computation(residual_block):
    calibration = read_calibration(RECORDED)
    result = predict(residual_block, engine="openvino", precision="f32", calibration=calibration)
    rows = {layer.name: layer for layer in result.layers}
    # the convolution: 2 × 64·64·9 MACs per output pixel, plus the bias; its node reads x and the f32
    # weights and bias, and writes its output
    conv_flops = 2 * CHANNELS * CHANNELS * 9 * SIDE * SIDE + ELEMENTS
    conv_bytes = 2 * ACTIVATION + (CHANNELS * CHANNELS * 9 + CHANNELS) * 4
    conv_roof, conv_level = _roof_time_us(calibration, conv_flops, conv_bytes, conv_bytes)
    assert (rows["conv"].flops, rows["conv"].executed_bytes, rows["conv"].level) == (conv_flops, conv_bytes, conv_level)
    conv_us = _fitted(calibration, "conv", 1, conv_roof)
    assert rows["conv"].predicted_time_us == pytest.approx(conv_us, rel=1e-9)
    # Add and ReLU run as one node reading two activations and writing one: half its bytes each (one
    # FLOP per element each), the node's fixed cost on the group's main layer (the Add) only
    add_roof, add_level = _roof_time_us(calibration, ELEMENTS, 3 * ACTIVATION / 2, 3 * ACTIVATION)
    assert rows["add"].level == add_level and rows["y"].fused_into == "add"
    add_us, relu_us = _fitted(calibration, "elementwise", 1, add_roof), _fitted(calibration, "elementwise", 0, add_roof)
    assert rows["add"].predicted_time_us == pytest.approx(add_us, rel=1e-9)
    assert rows["y"].predicted_time_us == pytest.approx(relu_us, rel=1e-9)
    # the reorders OpenVINO inserts around the blocked layout: each reads and writes one activation
    assert result.inserted and all(node.bytes == 2 * ACTIVATION for node in result.inserted)
    reorder_us = _fitted(calibration, "inserted", 1, _roof_time_us(calibration, 0, 2 * ACTIVATION, 2 * ACTIVATION)[0])
    for node in result.inserted:
        assert node.predicted_time_us == pytest.approx(reorder_us, rel=1e-9)
    expected = conv_us + add_us + relu_us + len(result.inserted) * reorder_us + calibration.call_us
    assert result.predicted_latency_us == pytest.approx(expected, rel=1e-9)
    assert calibration.call_us >= 0 and all(fit.slope > 0 for fit in calibration.fits.values())
    # the per-inference cost is added once, whatever the recorded machine measured for it
    from dataclasses import replace

    costly = predict(residual_block, engine="openvino", precision="f32", calibration=replace(calibration, call_us=37.5))
    assert costly.predicted_latency_us == pytest.approx(expected - calibration.call_us + 37.5, rel=1e-9)
    assert costly.call_overhead_us == 37.5


def test_a_model_file_is_compiled_once_and_again_when_it_changes(residual_block, write_residual_block, tmp_path, monkeypatch):
    """predict keeps the compiled graph of a model file: a second predict (the file, or a ModelSpec
    of it) reads it and gives the same prediction; the file rewritten (another size of block) is compiled again."""
    from flopbench import ModelSpec

    monkeypatch.setenv("FLOPBENCH_CACHE_DIR", str(tmp_path / "cache"))
    calibration = read_calibration(RECORDED)
    model = tmp_path / "block.onnx"
    shutil.copy(residual_block, model)
    first = predict(model, engine="openvino", precision="f32", calibration=calibration)
    (kept,) = (tmp_path / "cache" / "compiled").iterdir()
    # the kept graph is what the next predict reads (nothing compiled): a node's bytes changed in it show
    kept_text = kept.read_text()
    document = json.loads(kept_text)
    (conv_node,) = [node for node in document["nodes"] if "conv" in node["original_names"]]
    conv_node["bytes_read"] += 1000
    kept.write_text(json.dumps(document))
    doctored = predict(ModelSpec(model), engine="openvino", precision="f32", calibration=calibration)
    before = {layer.name: layer.executed_bytes for layer in first.layers}
    assert {layer.name: layer.executed_bytes for layer in doctored.layers}["conv"] == before["conv"] + 1000
    kept.write_text(kept_text)
    again = predict(model, engine="openvino", precision="f32", calibration=calibration)
    assert again.layers == first.layers and again.inserted == first.inserted
    assert again.predicted_latency_us == first.predicted_latency_us
    shutil.copy(write_residual_block(2 * CHANNELS, SIDE), model)
    changed = predict(model, engine="openvino", precision="f32", calibration=calibration)
    rows = {layer.name: layer for layer in changed.layers}
    assert rows["conv"].flops == 2 * (2 * CHANNELS) ** 2 * 9 * SIDE * SIDE + 2 * ELEMENTS  # the new file's, counted and compiled
    assert rows["conv"].executed_bytes == 2 * 2 * ACTIVATION + ((2 * CHANNELS) ** 2 * 9 + 2 * CHANNELS) * 4
    assert len(list((tmp_path / "cache" / "compiled").iterdir())) == 2 and kept.exists()


def test_calibration_measures_a_sweep_model_without_flops(tmp_path):
    """A Concat alone has no FLOPs: predict refuses such a model, the calibration compiles it for
    the bytes it moves (the sweep's concat and channel shuffle)."""
    from flopbench.errors import ProfilingError
    from flopbench.profiling.calibration import sweep
    from flopbench.profiling.compiled_graph import compiled

    (concat,) = [point for point in sweep(quick=False) if point.label == "concat 64+64 at 56×56"]
    model = concat.build(tmp_path)
    _, cost, _, nodes = compiled(model, "openvino", "CPU", "f32", None, None, None)
    assert not any(op.flops for op in cost.ops) and any(op.type == "Concat" for op in cost.ops) and nodes
    with pytest.raises(ProfilingError, match="no counted ops with FLOPs"):
        predict(model, engine="openvino", precision="f32", calibration=read_calibration(RECORDED))


def _point(kind, nodes, roof_us, measured_us, model="m"):
    from flopbench.profiling.calibration import CalibrationPoint

    return CalibrationPoint(model, f"l{len(str(roof_us))}", kind, nodes, 0, 0, 0, "L2", roof_us, measured_us, measured_us)


def test_a_class_fit_recovers_a_fixed_cost_and_a_slope_and_ignores_an_outlier():
    """Layers that take exactly 4 µs per node + 1.5 × their roof time give back 4 and 1.5; a layer a
    neighbour's load made 5× slower does not move the fit (Huber weights)."""
    from flopbench.profiling.calibration import fit_class

    roofs = [1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0]
    exact = [_point("conv", 1, r, 4.0 + 1.5 * r) for r in roofs] + [_point("conv", 2, 50.0, 8.0 + 75.0)]
    fit = fit_class(exact)
    assert (fit.fixed_us, fit.slope, fit.points) == (pytest.approx(4.0), pytest.approx(1.5), 8)
    slowed = exact + [_point("conv", 1, 20.0, 5 * (4.0 + 30.0))]
    fit = fit_class(slowed)
    assert fit.fixed_us == pytest.approx(4.0, rel=0.02) and fit.slope == pytest.approx(1.5, rel=0.02)
    # a class whose time is all fixed cost gets a slope of 0, never a negative one
    flat = fit_class([_point("pool", 1, r, 7.0) for r in (0.1, 0.2, 0.4)])
    assert flat.fixed_us == pytest.approx(7.0, rel=0.05) and flat.slope >= 0


def _sweep(profiler_factor, call_us=20.0, slowed_by=1.0, suffix=""):
    """A sweep whose layers take 4 µs + 1.5 × their roof time unprofiled (one node each) and
    `profiler_factor`× that profiled, and whose models take `call_us` more per inference: one-layer
    models of every roof and chains of 2-8 layers (which tell a cost per inference from one per node)."""
    from flopbench.profiling.calibration import CalibrationPoint, ModelPoint

    shapes = [(f"one {r}", (r,)) for r in (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)]
    shapes += [(f"chain {n}", (10.0 + n,) * n) for n in (2, 3, 5, 8)]
    points, models = [], []
    for name, roofs in shapes:
        unprofiled = [slowed_by * (4.0 + 1.5 * r) for r in roofs]
        points += [CalibrationPoint(name + suffix, f"layer{i}", "conv", 1, 0, 0, 0, "L2", r, profiler_factor * t, profiler_factor * t)
                   for i, (r, t) in enumerate(zip(roofs, unprofiled))]
        models.append(ModelPoint(name + suffix, len(roofs), len(roofs), call_us + sum(unprofiled), profiler_factor * sum(unprofiled)))
    return points, models


def test_calibration_fits_the_layers_as_they_run_unprofiled_and_the_cost_of_a_call():
    """A profiler that slows every node 1.6× (ONNX Runtime's) would fit slopes 1.6× too steep: the
    layers, scaled to their models' unprofiled latency less the per-inference cost, give back the
    unprofiled 4 µs + 1.5 × roof, and the cost the sweep's latencies fit best is the 20 µs each
    inference takes beyond its layers. Unscaled (OpenVINO's counters), the fit is the profiled one."""
    from flopbench.profiling.calibration import as_unprofiled, fitted, merged_models, merged_passes

    points, models = _sweep(profiler_factor=1.6)
    fits, call_us = fitted(tuple(points), tuple(models), scale_to_unprofiled=True)
    assert call_us == pytest.approx(20.0)
    assert (fits["conv"].fixed_us, fits["conv"].slope) == (pytest.approx(4.0, abs=1e-6), pytest.approx(1.5))
    scaled = as_unprofiled(merged_passes(tuple(points)), merged_models(tuple(models)), 20.0)
    assert [p.median_us for p in scaled] == pytest.approx([p.median_us / 1.6 for p in points])
    fits, call_us = fitted(tuple(points), tuple(models), scale_to_unprofiled=False)
    assert (fits["conv"].fixed_us, fits["conv"].slope) == (pytest.approx(6.4), pytest.approx(2.4))
    # the profiled fit overstates each layer by 1.6×, and the best per-inference cost on the sweep makes up part of it
    assert call_us < 20.0
    # a profiler that costs nothing: both ways agree
    points, models = _sweep(profiler_factor=1.0)
    for scale in (True, False):
        fits, call_us = fitted(tuple(points), tuple(models), scale_to_unprofiled=scale)
        assert call_us == pytest.approx(20.0) and fits["conv"].slope == pytest.approx(1.5)


def test_the_passes_of_a_sweep_model_are_fitted_as_the_median_of_their_medians():
    """A full calibration measures the sweep PASSES times over (a VM runs one model's blocks in one
    phase of its drifting speed): each layer is fitted at the median of its passes' medians, and a
    pass a neighbour's burst slowed 3× moves nothing; the per-call cost takes each model's median pass."""
    from flopbench.profiling.calibration import PASSES, fits_of, fitted, pass_label, pass_spread

    assert PASSES >= 3 and pass_label("1×1 conv", 0) == "1×1 conv" and pass_label("1×1 conv", 2) == "1×1 conv (pass 3)"
    roofs = (2.0, 5.0, 20.0, 80.0, 300.0)

    def layer(roof, time_us, index):
        return _point("conv", 1, roof, time_us, model=f"conv {index}")

    calm = [layer(r, 4.0 + 1.5 * r, i) for i, r in enumerate(roofs)]
    passes = calm + calm + [layer(r, 3 * (4.0 + 1.5 * r), i) for i, r in enumerate(roofs)]  # one pass, 3× slower
    fit = fits_of(tuple(passes))["conv"]
    assert (fit.fixed_us, fit.slope, fit.points) == (pytest.approx(4.0), pytest.approx(1.5), len(roofs))
    calm_points, calm_models = _sweep(profiler_factor=1.6)
    burst_points, burst_models = _sweep(profiler_factor=1.6, call_us=60.0, slowed_by=3.0)
    fits, call_us = fitted(tuple(calm_points * 2 + burst_points), tuple(calm_models * 2 + burst_models), scale_to_unprofiled=True)
    assert call_us == pytest.approx(20.0) and (fits["conv"].fixed_us, fits["conv"].slope) == (pytest.approx(4.0), pytest.approx(1.5))
    # how far the machine moved: the burst pass took 3× each model's calm ones, 200% longer
    assert pass_spread(tuple(calm_models * 2 + burst_models)) == pytest.approx(2.0)
    assert pass_spread(tuple(calm_models)) == 0.0  # one pass: nothing to tell


@pytest.fixture()
def recorded_cache(tmp_path, monkeypatch):
    """A cache folder holding the recorded calibration where `predict` looks for OpenVINO f32's."""
    monkeypatch.setenv("FLOPBENCH_CACHE_DIR", str(tmp_path / "cache"))
    target = calibration_path("openvino", precision="f32", quick=True)
    target.parent.mkdir(parents=True)
    shutil.copy(RECORDED, target)
    return target


def _flopbench(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "flopbench", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ})


def test_cli_json_loads_back_and_every_format(residual_block, recorded_cache, tmp_path):
    target = tmp_path / "predicted.json"
    done = _flopbench("predict", residual_block, "--precision", "f32", "-o", target)
    assert done.returncode == 0, done.stderr
    document = json.loads(target.read_text())
    validate(document)
    assert document["schema"] == "flopbench/predict/1" and document["predicted_latency_us"] > 0
    assert {"name", "predicted_time_us", "bound"} <= set(document["layers"][0])
    loaded = flopbench.load_result(target)
    assert loaded.to_dict() == document
    assert sum(layer["predicted_time_us"] for layer in document["layers"]) == pytest.approx(document["layers_us"])
    for fmt, needle in (("csv", "predicted_time_us"), ("markdown", "| Layer |"), ("table", "Predicted latency")):
        shown = _flopbench("predict", residual_block, "--precision", "f32", "--format", fmt)
        assert shown.returncode == 0 and needle in shown.stdout, shown.stderr


def test_bad_input_is_one_line_and_exit_2(residual_block, recorded_cache, tmp_path):
    before = recorded_cache.read_bytes()
    never = _flopbench("predict", residual_block, "--precision", "bf16")  # calibrated for f32 only
    assert never.returncode == 2 and "has not been calibrated" in never.stderr and "--calibrate" in never.stderr
    assert len(never.stderr.strip().splitlines()) == 1 and "Traceback" not in never.stderr
    import onnx
    from onnx import helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"], name="same")], "nothing",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])])
    empty = tmp_path / "nothing.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(empty))
    nothing = _flopbench("predict", empty, "--precision", "f32")
    assert nothing.returncode == 2 and "no counted ops" in nothing.stderr and len(nothing.stderr.strip().splitlines()) == 1
    previous = json.loads(RECORDED.read_text())
    previous.update(schema="flopbench/calibration/2", node_us=-3.0)  # fitted to profiled times, with a per-node cost
    del previous["scaled_to_unprofiled"]
    for document in ('{"schema": "flopbench/calibration/1", "engine": "openvino", "factors": {"conv": 1.2}}', json.dumps(previous)):
        recorded_cache.write_text(document)
        old = _flopbench("predict", residual_block, "--precision", "f32")  # an older flopbench's cache
        assert old.returncode == 2 and "older format" in old.stderr and "recalibrate: flopbench predict --calibrate" in old.stderr
        assert len(old.stderr.strip().splitlines()) == 1 and "Traceback" not in old.stderr
        assert recorded_cache.read_text() == document  # nothing overwritten
    recorded_cache.write_text('{"schema": "flopbench/calibration/3", "engine": ')  # damaged
    damaged = recorded_cache.read_bytes()
    broken = _flopbench("predict", residual_block, "--precision", "f32")
    assert broken.returncode == 2 and "damaged" in broken.stderr and len(broken.stderr.strip().splitlines()) == 1
    assert recorded_cache.read_bytes() == damaged != before  # nothing overwritten


def test_ctrl_c_keeps_the_calibration_measured_and_the_next_run_resumes(roofline_cache):
    """Interrupted after its first models, the calibration file says so and keeps them; the same
    command then measures only the rest."""
    from flopbench.profiling.calibration import sweep

    path = calibration_path("onnxruntime", quick=True)
    path.unlink(missing_ok=True)
    command = [sys.executable, "-m", "flopbench", "predict", "--calibrate", "--quick", "--engine", "onnxruntime"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env={**os.environ})
    started = []
    for line in process.stderr:
        if "calibrating" in line:
            started.append(line)
            if len(started) == 3:  # two models are measured and written
                process.send_signal(signal.SIGINT)
                break
    process.communicate(timeout=300)
    assert process.returncode == 130
    kept = read_calibration(path)
    quick_models = len(sweep(quick=True))
    assert not kept.complete and 2 <= len(kept.done) < quick_models and kept.points
    again = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ})
    assert again.returncode == 0, again.stderr
    measured_now = [line for line in again.stderr.splitlines() if "calibrating" in line]
    assert not any(label in line for label in kept.done for line in measured_now)  # resumed, not redone
    finished = read_calibration(path)
    assert finished.complete and set(kept.done) < set(finished.done) and len(finished.done) == quick_models == 14
    assert set(kept.points) <= set(finished.points)


def test_profile_puts_the_prediction_beside_each_measured_layer_and_flags_the_slow_ones(residual_block):
    from dataclasses import replace

    from flopbench.profiling.profile import marked_slower_than_predicted, profile, profiling_slowdown
    from flopbench.render.profile import to_markdown

    calibration = read_calibration(RECORDED)
    predicted = {layer.name: layer.predicted_time_us for layer in predict(residual_block, engine="openvino", precision="f32",
                                                                           calibration=calibration).layers}
    result = profile(residual_block, engine="openvino", precision="f32", iterations=5, warmup=1,
                     roofline=calibration.roofline, calibration=calibration)
    for row in result.layers:  # the same model, the same compiled graph: the same prediction
        assert row.predicted_time_us == pytest.approx(predicted[row.name], rel=1e-9)
    flagged = [w for w in result.warnings if w.rule == "slower_than_predicted"]
    slowdown = profiling_slowdown(result.profiled_latency, result.unprofiled_latency, result.overhead)
    slow = [row.name for row in result.layers if row.time_us >= 2 * slowdown * row.predicted_time_us]
    assert [x["layer"] for w in flagged for x in w.data["layers"]] == slow
    assert [row.name for row in result.layers if row.slower_than_predicted] == slow
    # a prediction is of the layer unprofiled: a run that profiling made 1.6× slower holds a layer to 3.2× its prediction
    row = replace(result.layers[0], time_us=30.0, predicted_time_us=10.0, parts=())
    assert [r.slower_than_predicted for r in marked_slower_than_predicted((row,) * 3, 1.0)] == [True] * 3
    assert not marked_slower_than_predicted((row,), 1.6)[0].slower_than_predicted
    assert marked_slower_than_predicted((row,), 1.4)[0].slower_than_predicted
    assert marked_slower_than_predicted((row,), 0.5)[0].slower_than_predicted  # a run profiling made no slower: 2× alone
    # a calibration that expects a hundredth of the time finds every timed layer slow
    strict = replace(calibration, fits={kind: replace(fit, fixed_us=fit.fixed_us / 100, slope=fit.slope / 100)
                                        for kind, fit in calibration.fits.items()})
    result = profile(residual_block, engine="openvino", precision="f32", iterations=5, warmup=1,
                     roofline=calibration.roofline, calibration=strict)
    (flag,) = [w for w in result.warnings if w.rule == "slower_than_predicted"]
    timed = [row for row in result.layers if row.time_us > 0]
    assert flag.data["profiler_factor"] == pytest.approx(profiling_slowdown(result.profiled_latency, result.unprofiled_latency, result.overhead))
    assert [x["layer"] for x in flag.data["layers"]] == [row.name for row in timed]
    for entry, row in zip(flag.data["layers"], timed):
        assert entry["ratio"] == pytest.approx(row.time_us / row.predicted_time_us) and entry["ratio"] >= 2
    text = to_markdown(result)
    assert "slower than this machine's calibrated model predicts" in text and " !" in text
    validate(result.to_dict())


def test_predict_takes_the_model_and_engine_settings_bench_takes(residual_block):
    """predict(ModelSpec, engine, EngineConfig) as bench and profile take them; the loose keywords
    make the same values; a setting predict cannot model is refused, naming it."""
    from flopbench import EngineConfig, ModelSpec
    from flopbench.errors import OptionError

    calibration = read_calibration(RECORDED)
    spec = ModelSpec(residual_block, batch=1)
    by_objects = predict(spec, "openvino", EngineConfig(precision="f32"), calibration=calibration)
    by_keywords = predict(residual_block, engine="openvino", precision="f32", batch=1, calibration=calibration)
    assert by_objects.predicted_latency_us == by_keywords.predicted_latency_us
    assert [layer.predicted_time_us for layer in by_objects.layers] == [layer.predicted_time_us for layer in by_keywords.layers]
    with pytest.raises(OptionError, match="config or policy object and keyword"):
        predict(spec, "openvino", EngineConfig(precision="f32"), precision="f32", calibration=calibration)
    with pytest.raises(OptionError, match="-nstreams"):
        predict(spec, "openvino", EngineConfig(nstreams=2), calibration=calibration)
    with pytest.raises(OptionError, match="-hint throughput"):
        predict(spec, "openvino", EngineConfig(hint="throughput"), calibration=calibration)


def test_a_depthwise_convolution_of_one_channel_is_predicted_as_the_convolution_the_engine_runs(sep_cnn_onnx):
    """sep_cnn's first depthwise layer has one channel: OpenVINO runs it with its planar
    convolution kernel, not its depthwise one (the compiled graph says which), so predict takes it
    in the convolution class; the second one, of 10 channels, stays depthwise."""
    from flopbench.profiling.compiled_graph import compiled

    _, _, _, nodes = compiled(sep_cnn_onnx, "openvino", "CPU", "f32", None, None, None)
    kernels = {name: node.exec_type for node in nodes for name in node.original_names}
    assert "_dw_" not in kernels["conv1/depthwise"] and "_dw_" in kernels["conv2/depthwise"]
    predicted = predict(sep_cnn_onnx, engine="openvino", precision="f32", calibration=read_calibration(RECORDED))
    parts = {part.name: part for layer in predicted.layers for part in layer.parts}
    assert parts["conv1/depthwise"].kernel_class == "conv" and parts["conv2/depthwise"].kernel_class == "depthwise"
    conv = read_calibration(RECORDED).fits["conv"]
    assert parts["conv1/depthwise"].fixed_us == pytest.approx(conv.fixed_us)  # one node, the convolution class's start-up


def test_the_weights_of_a_network_larger_than_the_cache_come_from_dram(tmp_path):
    """A layer's weights were last read one inference ago: in a chain of ten 1024×1024 matmuls
    (40 MB of weights, more than the recorded machine's 32 MB L3) each layer's 4 MB working set fits
    in L3, but its weights come from DRAM; alone, the same matmul reads them from L3. The roof time
    by hand: the activations at L3's bandwidth, the 1024×1024×4 weight bytes at DRAM's."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def chain(layers: int) -> Path:
        rng = np.random.default_rng(0)
        weights = [numpy_helper.from_array((rng.standard_normal((1024, 1024)) * 0.03).astype(np.float32), f"w{i}") for i in range(layers)]
        nodes = [helper.make_node("MatMul", ["x" if i == 0 else f"y{i - 1}", f"w{i}"], [f"y{i}"], name=f"fc{i}") for i in range(layers)]
        graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1024])],
                                  [helper.make_tensor_value_info(f"y{layers - 1}", TensorProto.FLOAT, [1, 1024])], weights)
        path = tmp_path / f"chain{layers}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
        return path

    calibration = read_calibration(RECORDED)
    levels = {level.name: level for level in calibration.roofline.levels}
    assert levels["L3"].holds_to_bytes < 10 * 1024 * 1024 * 4  # the premise: ten layers' weights overflow L3
    weight_bytes = 1024 * 1024 * 4
    for layers, weights_from in ((10, "DRAM"), (1, "L3")):
        predicted = predict(chain(layers), engine="openvino", precision="f32", calibration=calibration)
        layer = predicted.layers[0]
        assert layer.level == "L3" and layer.executed_bytes > weight_bytes
        activations = (layer.executed_bytes - weight_bytes) / (levels["L3"].bandwidth_gb_per_s * 1e3)
        weights = weight_bytes / (levels[weights_from].bandwidth_gb_per_s * 1e3)
        compute = layer.flops / (calibration.roofline.peaks["f32"].gflops_per_s * 1e3)
        assert layer.roof_time_us == pytest.approx(max(compute, activations + weights), rel=1e-9)
        assert layer.bound == weights_from


def test_a_calibration_block_takes_a_layers_median_inference_where_the_engine_times_each(sep_cnn_onnx):
    """ONNX Runtime's trace times each inference's nodes apart: a block's time of a layer is their
    median, so an inference stalled by other work (a core taken for a scheduler tick) does not move
    it, where the mean would carry the stall into the block."""
    import numpy as np

    from flopbench.measure.engines import EngineConfig
    from flopbench.measure.session import open_session
    from flopbench.profiling.calibration import block_time_us
    from flopbench.profiling.join import join, layer_samples

    with open_session(sep_cnn_onnx, "onnxruntime", EngineConfig(profile=True)) as session:
        run = session.runner.profiled_run(session.inputs.arrays, 9, warmup=2, model=session.loaded,
                                          counted={op.name for op in session.cost.ops})
        joined = join(session.cost, run.nodes)
    layer = next(t for t in joined.layers if t.layer.name == "fc1")
    (node, share), = layer.shares
    samples = run.node_samples_ns[node]
    assert len(samples) == 9 and block_time_us(layer_samples(layer, run.node_samples_ns), layer.time_ns) == pytest.approx(np.median(samples) * share / 1e3, abs=1e-3)
    stalled = dict(run.node_samples_ns)
    stalled[node] = samples.copy()
    stalled[node][4] += 4_000_000  # one inference stalled by 4 ms
    assert block_time_us(layer_samples(layer, stalled), layer.time_ns) == pytest.approx(block_time_us(layer_samples(layer, run.node_samples_ns), layer.time_ns), rel=0.5)
    assert np.mean(stalled[node]) * share / 1e3 > block_time_us(layer_samples(layer, run.node_samples_ns), layer.time_ns) + 400  # what the mean would say


def test_lrn_is_a_kernel_class_of_its_own(tmp_path):
    """ONNX Runtime's LRN runs about 80× its roof time, far from every other op of `other`: an LRN
    layer is predicted with the fit of the calibration's LRN models, 80× its roof time by hand."""
    from dataclasses import replace

    import onnx
    from onnx import TensorProto, helper

    from flopbench.profiling.calibration import fits_of
    from flopbench.profiling.kernel_classes import ClassFit

    fits = fits_of(tuple(_point("lrn", 1, roof, 80.0 * roof, model=f"LRN {roof}") for roof in (10.0, 20.0, 40.0)) +
                   tuple(_point("other", 1, roof, 2.0 * roof, model=f"other {roof}") for roof in (1.0, 2.0, 4.0)))
    assert fits["lrn"].slope == pytest.approx(80.0) and fits["other"].slope == pytest.approx(2.0)
    graph = helper.make_graph([helper.make_node("LRN", ["x"], ["y"], name="norm", size=5),
                               helper.make_node("Relu", ["y"], ["z"], name="relu")], "lrn",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 28, 28])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 64, 28, 28])])
    path = tmp_path / "lrn.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    recorded = read_calibration(RECORDED)
    calibration = replace(recorded, fits={**recorded.fits, "lrn": ClassFit(0.0, 80.0)})
    result = predict(path, engine="onnxruntime", calibration=calibration)
    layer = next(found for found in result.layers if found.type == "LRN")
    assert layer.kernel_class == "lrn" and layer.predicted_time_us == pytest.approx(80.0 * layer.roof_time_us)
    # the summary says how the fits were made: an ONNX Runtime calibration is scaled to unprofiled time
    from flopbench.render.predict import summary_lines

    assert not any("unprofiled latency" in line for line in summary_lines(result))
    scaled = predict(path, engine="onnxruntime", calibration=replace(calibration, scaled_to_unprofiled=True, pass_spread=0.5))
    assert any("scaled to its models' unprofiled latency" in line for line in summary_lines(scaled))
    assert any("slowest pass took 50% longer than its fastest" in line for line in summary_lines(scaled))
    assert not any("slowest pass" in line for line in summary_lines(result))  # a quick calibration: one pass


def test_a_grouped_convolution_and_a_channel_shuffle_are_kernel_classes_of_their_own(tmp_path):
    """ResNeXt's group-32 3×3 convolutions (4 channels a group) ran at 5-10× their roof time on
    OpenVINO, and ShuffleNet's channel shuffles (read from a convolution's blocked layout) at 8-14×:
    a grouped convolution of fewer than 16 channels a group is the `grouped` class (one of more runs
    as a dense one does), a shuffle's data movement the `layout` class, each
    predicted with its own fit (by hand: its fixed cost per node + its slope × its roof time), and
    the calibration sweep measures both as networks have them."""
    from dataclasses import replace

    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from flopbench.profiling.calibration import sweep
    from flopbench.profiling.kernel_classes import ClassFit

    labels = [point.label for point in sweep(quick=False)]
    assert sum("group-32" in label or "24→112" in label for label in labels) >= 3  # the grouped class is fitted, not guessed
    assert sum(label.startswith("channel shuffle") and "after" not in label for label in labels) >= 3
    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array((rng.standard_normal((240, 8, 1, 1)) * 0.1).astype(np.float32), "w")
    dense = numpy_helper.from_array((rng.standard_normal((240, 80, 1, 1)) * 0.1).astype(np.float32), "w3")
    shapes = [numpy_helper.from_array(np.array(s, np.int64), n) for s, n in (([1, 3, 80, 28, 28], "s1"), ([1, 240, 28, 28], "s2"))]
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["c"], name="grouped", group=30),
                               helper.make_node("Conv", ["c", "w3"], ["c3"], name="few_groups", group=3),
                               helper.make_node("Relu", ["c3"], ["r"], name="relu"),
                               helper.make_node("Reshape", ["r", "s1"], ["a"], name="split"),
                               helper.make_node("Transpose", ["a"], ["t"], name="shuffle", perm=[0, 2, 1, 3, 4]),
                               helper.make_node("Reshape", ["t", "s2"], ["y"], name="join")], "shufflenet_unit",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 240, 28, 28])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 240, 28, 28])], [weights, dense, *shapes])
    path = tmp_path / "unit.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    recorded = read_calibration(RECORDED)
    fits = {**recorded.fits, "grouped": ClassFit(3.0, 2.0), "layout": ClassFit(1.0, 11.0)}
    for engine in ("openvino", "onnxruntime"):
        result = predict(path, engine=engine, precision="f32" if engine == "openvino" else None,
                         calibration=replace(recorded, fits=fits))
        rows = {layer.name: layer for layer in result.layers}
        assert rows["grouped"].kernel_class == "grouped"  # 8 channels a group
        assert rows["few_groups"].kernel_class == "pointwise"  # 80 channels a group: a dense 1×1 kernel's work
        assert rows["grouped"].predicted_time_us == pytest.approx(3.0 * 1 + 2.0 * rows["grouped"].roof_time_us)
        moving = [layer for layer in result.layers if layer.kernel_class == "layout" and layer.predicted_time_us > 0]
        assert moving, engine  # the engine runs the shuffle as some node: OpenVINO one ShuffleChannels, ONNX Runtime its three ops
        for layer in moving:
            nodes = round((layer.predicted_time_us - 11.0 * layer.roof_time_us) / 1.0)
            assert nodes >= 1 and layer.predicted_time_us == pytest.approx(1.0 * nodes + 11.0 * layer.roof_time_us)
