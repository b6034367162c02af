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
