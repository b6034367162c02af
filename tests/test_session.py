"""One session for every measurement; engines read the model themselves: ONNX Runtime runs an
INT8 QOperator model (com.microsoft ops) that OpenVINO cannot read, and the count is then reported
unavailable with OpenVINO's reason."""
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from flopbench.cli.main import main
from flopbench.errors import EngineError, ModelFileError
from flopbench.measure.engines import EngineConfig, get_engine
from flopbench.measure.session import open_session, open_sessions
from flopbench.results.schema import validate


@pytest.fixture(scope="module")
def qoperator_model(tmp_path_factory):
    """A small float conv net, quantized by ONNX Runtime into QOperator form (QLinearConv,
    com.microsoft QLinearGlobalAveragePool and QGemm)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    folder = tmp_path_factory.mktemp("qop")
    rng = np.random.default_rng(0)

    def weight(name, shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.1).astype(np.float32), name)

    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("GlobalAveragePool", ["r1"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
                              [weight("w1", (8, 3, 3, 3)), weight("b1", (8,)), weight("w2", (10, 8)), weight("b2", (10,))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    float_path, int8_path = folder / "float.onnx", folder / "qop.onnx"
    onnx.save(model, float_path)

    class Calibration(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": rng.standard_normal((1, 3, 16, 16)).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(str(float_path), str(int8_path), Calibration(), quant_format=QuantFormat.QOperator)
    domains = {(n.op_type, n.domain) for n in onnx.load(int8_path).graph.node}
    assert ("QGemm", "com.microsoft") in domains and ("QLinearConv", "") in domains
    return int8_path


def test_onnxruntime_benches_a_model_openvino_cannot_read(qoperator_model, tmp_path, capfd):
    out = tmp_path / "q.json"
    code = main(["bench", str(qoperator_model), "--engine", "onnxruntime", "-t", "0.2", "-niter", "20", "--json", str(out)])
    captured = capfd.readouterr()
    assert code == 0, captured.err
    document = json.loads(out.read_text())
    validate(document)
    result = document["results"][0]
    assert result["iterations"] >= 20 and result["call_latency"]["median_ns"] > 0
    assert result["flops_per_inference"] is None and result["gflops_per_s"] is None
    assert any("FLOPs unavailable: OpenVINO cannot read qop.onnx" in w and "com.microsoft.QGemm" in w for w in result["warnings"])
    assert "FLOPs unavailable" in captured.out


def test_openvino_with_it_fails_fast_with_openvinos_reason(qoperator_model, capfd):
    code = main(["bench", str(qoperator_model), "--engine", "openvino,onnxruntime", "-t", "60"])
    err = capfd.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("flopbench: error: OpenVINO cannot read qop.onnx") and "com.microsoft" in err[0]


def test_session_reads_inputs_the_engines_way(qoperator_model, sep_cnn_onnx):
    with open_session(qoperator_model, "onnxruntime") as session:
        assert session.cost is None and "OpenVINO cannot read" in session.count_unavailable
        assert [(i.name, i.shape, i.dtype) for i in session.model.input_infos] == [("x", (1, 3, 16, 16), "float32")]
        assert session.runner.infer(session.inputs.arrays)["y"].shape == (1, 10)
    # one model, two engines: one reading, one count, one set of inputs, two compiled runners
    with open_sessions(sep_cnn_onnx, ["openvino", "onnxruntime"], EngineConfig(precision="f32")) as sessions:
        assert sessions.model.cost.total_flops == 926_808
        assert sessions.model.batch == 1 and len(sessions) == 2
        first, second = (s.runner.infer(sessions.model.inputs.arrays) for s in sessions)
        np.testing.assert_allclose(next(iter(first.values())), next(iter(second.values())), rtol=1e-4, atol=1e-5)


def test_engine_interface_checks_device_and_model_kind(sep_cnn_xml):
    for name in ("openvino", "onnxruntime"):
        engine = get_engine(name)
        with pytest.raises(EngineError, match="not available"):
            engine.check_device("NO_SUCH_DEVICE")
    with pytest.raises(EngineError, match="ONNX files only"):
        get_engine("onnxruntime").check_model(sep_cnn_xml)
    with pytest.raises(EngineError, match="ONNX files only"):
        open_session(sep_cnn_xml, "onnxruntime")


def test_a_broken_file_is_still_a_model_file_error_for_onnxruntime(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07garbage")
    with pytest.raises((ModelFileError, EngineError)):
        open_session(broken, "onnxruntime", EngineConfig())
