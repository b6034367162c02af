"""`flopbench machine`: the roofline measured with the engine's own node times, cached per machine
and engine version. The quick plan keeps these tests small; the full one is in the README."""
import json
import os
import subprocess
import sys

import pytest

from flopbench.profiling import machine as roofline
from flopbench.profiling.machine import Machine, cache_path, machine, measure_machine, theoretical_peaks
from flopbench.results.metadata import cpu_flags
from flopbench.results.schema import validate


def test_quick_openvino_roofline_offers_what_the_cpu_has(roofline_cache):
    measured = roofline_cache["openvino"]
    flags = cpu_flags()
    expected = ["f32"] + (["bf16"] if flags & {"avx512_bf16", "amx_bf16"} else []) + \
               (["i8"] if flags & {"avx512_vnni", "avx_vnni", "amx_int8"} else [])
    assert list(measured.peaks) == expected
    for precision, peak in measured.peaks.items():
        assert peak.gflops_per_s > 0 and peak.op.startswith(("MatMul", "1×1 Conv", "3×3 Conv"))
        assert peak.kernel  # the engine's kernel name, e.g. brgemm_avx512_bf16
    if "bf16" in measured.peaks:
        assert "bf16" in measured.peaks["bf16"].kernel.lower()
    if "i8" in measured.peaks:
        assert "i8" in measured.peaks["i8"].kernel.lower()  # the MatMul really ran in int8
    assert measured.bandwidth_gb_per_s > 0
    assert measured.bandwidth_bytes == 3 * 4 * roofline.QUICK.add_elements
    validate(measured.to_dict())
    assert Machine.from_dict(json.loads(json.dumps(measured.to_dict()))) == measured


def test_onnxruntime_roofline_is_f32(roofline_cache):
    measured = roofline_cache["onnxruntime"]
    assert list(measured.peaks) == ["f32"] and measured.engine == "onnxruntime"


def test_theoretical_peak_is_the_formula():
    peaks, basis = theoretical_peaks({"avx512f", "avx512_bf16", "avx512_vnni"}, cores=2, ghz=2.5)
    assert peaks == {"f32": 2 * 16 * 2 * 2 * 2.5, "bf16": 2 * 2 * 16 * 2 * 2 * 2.5, "i8": 4 * 2 * 16 * 2 * 2 * 2.5}
    assert theoretical_peaks({"avx2", "fma"}, cores=4, ghz=3.0)[0] == {"f32": 4 * 8 * 2 * 2 * 3.0}
    assert theoretical_peaks(set(), cores=4, ghz=None)[0] == {}


def test_the_cache_is_read_back_and_remeasured_on_demand(roofline_cache):
    path = cache_path("onnxruntime", quick=True)
    assert path.parent == roofline.cache_dir() and path.exists()
    assert machine("onnxruntime", quick=True) == roofline_cache["onnxruntime"]  # from the cache: same measurement
    again = machine("onnxruntime", quick=True, remeasure=True)
    assert again.measured_at >= roofline_cache["onnxruntime"].measured_at
    assert Machine.from_dict(json.loads(path.read_text())) == again
    path.write_text("{ broken")  # a broken cache is measured again, not an error
    assert machine("onnxruntime", quick=True).peaks["f32"].gflops_per_s > 0
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # atomic writes leave no temp file


def test_cli_machine_json(tmp_path, roofline_cache):
    target = tmp_path / "machine.json"
    done = subprocess.run([sys.executable, "-m", "flopbench", "machine", "--quick", "-o", str(target)],
                          capture_output=True, text=True, timeout=300, env={**os.environ})
    assert done.returncode == 0, done.stderr
    document = json.loads(target.read_text())
    validate(document)
    assert document == roofline_cache["openvino"].to_dict()  # the cached measurement
    import flopbench

    assert flopbench.load_result(target) == roofline_cache["openvino"]
    table = subprocess.run([sys.executable, "-m", "flopbench", "machine", "--quick"], capture_output=True, text=True, timeout=300)
    assert "Theoretical" in table.stdout and "memory bandwidth" in table.stdout


def test_an_unknown_engine_is_refused():
    from flopbench.errors import EngineError

    with pytest.raises(EngineError):
        measure_machine("tensorflow", quick=True)
