"""The engine layer on real runtimes: outputs agree, settings are read back, per-node times join."""
import numpy as np
import pytest

import flopbench
from flopbench.measure.engines import EngineConfig, get_engine
from flopbench.errors import EngineError
from flopbench.measure.bench import bench, setting_differences
from flopbench.measure.policy import RunPolicy


@pytest.fixture(scope="module")
def image(image_npy):
    return {"input": np.load(image_npy).reshape(1, 1, 28, 28).astype(np.float32)}


def test_engines_agree_on_the_output(sep_cnn_onnx, image):
    ov = get_engine("openvino").compile(str(sep_cnn_onnx), {"input": (1, 1, 28, 28)}, EngineConfig(precision="f32"))
    ort = get_engine("onnxruntime").compile(str(sep_cnn_onnx), {"input": (1, 1, 28, 28)}, EngineConfig())
    a, b = ov.infer(image)["probabilities"], ort.infer(image)["probabilities"]
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert a.shape == (1, 10) and abs(float(a.sum()) - 1) < 1e-4


def test_openvino_node_times_map_back_to_counted_ops(sep_cnn_xml, image):
    runner = get_engine("openvino").compile(str(sep_cnn_xml), {}, EngineConfig(profile=True))
    times = runner.node_times(image, iterations=5)
    executed = [t for t in times if t.status == "EXECUTED"]
    assert executed and all(t.time_ns >= 0 for t in executed)
    covered = {name for t in executed for name in t.original_names}
    counted = {op.name for op in flopbench.count(sep_cnn_xml).ops}
    # every conv and matmul the counter sees is covered by some executed engine node
    for name in ("conv1/depthwise", "conv1/pointwise", "conv2/depthwise", "conv2/pointwise"):
        assert name in covered and name in counted


def test_onnxruntime_node_times(sep_cnn_onnx, image):
    runner = get_engine("onnxruntime").compile(str(sep_cnn_onnx), {}, EngineConfig(profile=True))
    times = runner.node_times(image, iterations=3)
    assert times and {t.type for t in times} & {"Conv", "FusedConv", "Gemm", "FusedGemm", "MatMul"}
    runner.close()


def _spinning_stopped(runner) -> bool:
    try:
        return runner.session.get_session_options().get_session_config_entry("session.force_spinning_stop") == "1"
    except RuntimeError:  # ONNX Runtime raises for an entry never set
        return False


def test_sessions_that_take_turns_stop_their_threads_spinning(sep_cnn_onnx, image, monkeypatch, roofline_cache):
    """Two ONNX Runtime sessions taking turns in one process: the idle one's intra-op threads spin
    for work and take the cores the other is timed on (mobilenet_v1 in profile: 15 ms a run against
    7 ms alone, on this 2-core machine). A session compiled as alternating stops them after each
    run; a session alone (bench) keeps the engine's default. Profile compiles both of its sessions so."""
    from flopbench.measure.engines.onnxruntime_engine import OnnxRuntimeEngine
    from flopbench.profiling.profile import profile

    engine = get_engine("onnxruntime")
    alone = engine.compile(str(sep_cnn_onnx), {}, EngineConfig())
    taking_turns = engine.compile(str(sep_cnn_onnx), {}, EngineConfig(alternating=True))
    assert not _spinning_stopped(alone) and "spinning" not in alone.settings.extra
    assert _spinning_stopped(taking_turns) and "another session" in taking_turns.settings.extra["spinning"]
    np.testing.assert_allclose(alone.infer(image)["probabilities"], taking_turns.infer(image)["probabilities"], atol=1e-6)
    alone.close(), taking_turns.close()

    compiled = []
    real_compile = OnnxRuntimeEngine.compile

    def recording(self, model_path, input_shapes, config):
        runner = real_compile(self, model_path, input_shapes, config)
        compiled.append((config, _spinning_stopped(runner)))
        return runner

    monkeypatch.setattr(OnnxRuntimeEngine, "compile", recording)
    result = profile(sep_cnn_onnx, engine="onnxruntime", iterations=10, warmup=2, roofline=roofline_cache["onnxruntime"])
    assert {config.profile for config, _ in compiled} == {True, False}  # the profiled session and its unprofiled twin
    assert all(config.alternating and stopped for config, stopped in compiled)
    assert "spinning" in result.engine["extra"]


def test_node_times_need_profiling(sep_cnn_xml, image):
    runner = get_engine("openvino").compile(str(sep_cnn_xml), {}, EngineConfig())
    with pytest.raises(EngineError, match="profiling"):
        runner.node_times(image)


def test_clamped_settings_are_reported(sep_cnn_xml):
    result = bench(sep_cnn_xml, config=EngineConfig(nstreams=64), policy=RunPolicy(warmup_iterations=1, min_duration_s=0.05, min_iterations=5)).results[0]
    used = result.settings.streams
    differs = [w for w in result.warnings if "-nstreams 64" in w]
    assert bool(differs) == (used != 64)
    assert setting_differences(EngineConfig(precision="bf16"), result.settings) == (
        [] if result.settings.precision == "bf16" else [f"asked for --precision bf16, but openvino on CPU uses {result.settings.precision}"])


def test_unknown_engine_and_device():
    with pytest.raises(EngineError, match="unknown engine"):
        get_engine("tensorrt")
    with pytest.raises(EngineError, match="not available"):
        get_engine("openvino").check_device("GPU")


def test_a_device_that_rejects_the_settings_is_a_clean_error(sep_cnn_xml):
    # the CPU plugin has no device ids: it rejects "CPU.1" when compiling
    with pytest.raises(EngineError, match="rejected"):
        get_engine("openvino").compile(str(sep_cnn_xml), {}, EngineConfig(device="CPU.1"))


def test_every_registered_engine_declares_what_the_rest_of_flopbench_asks_it():
    """The contract a new engine module meets (measure/engines/base.py's Engine): the registry's
    name is the engine's own, its facts are of the kinds the callers use, and a file kind it does not
    run is refused by check_model in one line."""
    from flopbench.measure.engines import ALIASES, DEFAULT_ENGINE, ENGINES
    from flopbench.measure.engines.base import PRECISIONS

    assert DEFAULT_ENGINE in ENGINES
    for name, cls in ENGINES.items():
        engine = get_engine(name)
        assert engine.name == name and engine.display_name and engine.package and engine.error_modules
        assert all(ALIASES[alias] == name for alias in engine.aliases)
        assert set(engine.compared_precisions) <= set(engine.precision_settings) <= set(PRECISIONS)
        assert "f32" in engine.precisions("CPU") and set(engine.precisions("CPU")) <= set(PRECISIONS)
        assert isinstance(engine.reads_as_model_reader, bool) and isinstance(engine.version(), str)
        assert all(kind.startswith(".") for kind in engine.file_kinds)
        assert set(engine.roofline_precisions({"avx512f", "avx512_bf16", "avx512_vnni"})) >= {"f32"}
        if engine.file_kinds:
            with pytest.raises(EngineError, match=engine.display_name):
                engine.check_model("model.unknown_kind")
