"""`flopbench quantize`: a real NNCF INT8 twin that counts like its float source and runs on OpenVINO."""
import json
import subprocess
import sys

import numpy as np
import pytest

import flopbench
from flopbench.quantize import quantize
from flopbench.results.schema import validate

# the int8 weights of sep_cnn's convolutions and matmuls, one byte each
INT8_WEIGHTS = 9 + 10 + 90 + 50 + 2880 * 128 + 128 * 10


@pytest.fixture(scope="module")
def twin(quantized_twin):
    return quantized_twin


def test_the_twin_counts_like_the_float_model(twin, sep_cnn_xml):
    xml, _, _ = twin
    quantized, source = flopbench.count(xml), flopbench.count(sep_cnn_xml)
    assert quantized.macs == source.macs == 463_404 and quantized.params == source.params == 370_232
    assert quantized.not_counted == {}
    for layer in ("conv1", "conv2", "fc1", "fc2"):
        assert quantized.layer(layer).precision == "int8", layer
    assert quantized.macs_by_precision == {"int8": 463_404}
    stored = quantized.weight_bytes_by_type
    assert stored["i8"] == INT8_WEIGHTS
    # the rest is f32: the 153 biases, the per-channel scales and the FakeQuantize ranges
    assert stored["f32"] > 153 * 4 and set(stored) == {"i8", "f32"}
    assert quantized.weight_bytes < source.weight_bytes / 3.9


def test_the_report_says_the_accuracy_is_unknown(twin):
    xml, report, stdout = twin
    assert f"wrote {xml}" in stdout
    assert "accuracy unknown: calibrated on random data" in stdout
    document = json.loads(report.read_text())
    validate(document)
    assert document["random_calibration"] and document["samples"] == 8
    assert document["integer_macs"] == document["macs"] == 463_404
    assert document["fake_quantize_ops"] == sum(1 for op in flopbench.count(xml).ops if op.type == "FakeQuantize") > 0
    assert flopbench.load_result(report).to_dict()["weight_bytes"] == document["weight_bytes"]


def test_the_twin_runs_and_agrees_with_the_float_model(twin, sep_cnn_xml, image_npy):
    from flopbench.measure.run import run

    xml, _, _ = twin
    assert run(xml, inputs=[str(image_npy)], niter=1).top_class == run(sep_cnn_xml, inputs=[str(image_npy)], niter=1).top_class


def test_calibration_from_a_folder_of_samples(sep_cnn_onnx, tmp_path):
    calibration = tmp_path / "calibration"
    calibration.mkdir()
    rng = np.random.default_rng(3)
    for index in range(4):
        np.save(calibration / f"sample_{index}.npy", rng.random((28, 28), dtype=np.float32))  # reshaped to 1x1x28x28
    result = quantize(sep_cnn_onnx, tmp_path / "out" / "int8.xml", calibration=calibration)
    assert result.samples == 4 and not result.random_calibration
    assert result.calibration == f"4 files from {calibration}"
    assert flopbench.count(result.xml).integer_macs == 463_404


def test_bench_says_int8_ran(twin, sep_cnn_xml, tmp_path):
    xml, _, _ = twin
    report = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "flopbench", "bench", str(xml), "-t", "0.2", "-niter", "5", "--json", str(report)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    settings_line = next(line for line in done.stdout.splitlines() if line.startswith("openvino ") and "precision" in line)
    assert "precision int8 (quantized model), float ops in " in settings_line
    document = json.loads(report.read_text())
    validate(document)
    engine = document["results"][0]["engine"]
    assert engine["executed_precision"].startswith("int8 (quantized model), float ops in ")
    # OpenVINO's own readback: the convolutions ran on 8-bit integers, the softmax on floats
    assert engine["op_precisions"]["conv1/depthwise"] in ("u8", "i8")
    assert engine["op_precisions"]["softmax"] in ("f32", "bf16", "f16")
    # the float model says its float precision, not int8
    from flopbench.measure.bench import bench
    from flopbench.measure.policy import RunPolicy

    float_result = bench(sep_cnn_xml, policy=RunPolicy(min_duration_s=0.05, min_iterations=3)).results[0]
    assert float_result.settings.executed_precision == float_result.settings.precision != ""
    assert not any(p in ("u8", "i8") for p in float_result.settings.op_precisions.values())


def test_the_cli_quantizes_without_loading_torch_and_torch_still_loads_after(sep_cnn_xml, tmp_path):
    """NNCF imports torch when it is installed and asks it first whether a model is a torch one; the
    command quantizes a model file read by OpenVINO, which needs none of it (torch was most of the
    command's time). In-process, torch is importable again once the command is done."""
    code = ("import json, sys\nfrom flopbench.cli.main import main\n"
            f"code = main(['quantize', {str(sep_cnn_xml)!r}, '-o', {str(tmp_path / 'q')!r}, '--samples', '2'])\n"
            "loaded = sorted(m for m in ('torch', 'nncf') if m in sys.modules and sys.modules[m] is not None)\n"
            "import importlib.util\n"  # importable again, found where it is installed (importing it would take seconds)
            "print(json.dumps({'code': code, 'loaded': loaded, 'torch_after': 'torch' not in sys.modules and "
            "importlib.util.find_spec('torch') is not None}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"code": 0, "loaded": ["nncf"], "torch_after": True}
    twin = flopbench.count(tmp_path / "q" / "sep_cnn.xml")
    assert twin.macs_by_precision == {"int8": 463_404} and twin.weight_bytes_by_type["i8"] == INT8_WEIGHTS
