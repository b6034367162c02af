"""bench on real engines and the zoo's sep_cnn: shape of the results, settings read back, Ctrl-C."""
import json
import select
import signal
import subprocess
import sys
import time

import pytest

from flopbench.measure.engines import EngineConfig
from flopbench.measure.bench import bench
from flopbench.measure.policy import RunPolicy

SHORT = RunPolicy(warmup_iterations=2, min_duration_s=0.3, min_iterations=20)


def test_latency_mode_both_engines(sep_cnn_onnx):
    report = bench(sep_cnn_onnx, engines=("openvino", "onnxruntime"), policy=SHORT)
    assert report.complete
    ov, ort = report.results
    assert ov.settings.engine == "openvino" and ort.settings.engine == "onnxruntime"
    # OpenVINO measures its own latency too; ONNX Runtime has only the call latency
    assert ov.engine_latency is not None and ov.call_latency is not None and ort.engine_latency is None
    assert ov.engine_latency.count == ov.call_latency.count == ov.iterations >= 20
    assert ov.engine_latency.median_ns <= ov.call_latency.median_ns  # the call pays the binding on top
    for result in report.results:
        assert result.wall_s >= 0.3 and result.throughput_fps > 0
        assert result.flops_per_inference == 926_808
        assert result.gflops_per_s == pytest.approx(926_808 * result.throughput_fps / 1e9)
        assert len(result.warmup_ns) == 2 and result.first_inference_ns == result.warmup_ns[0]
        assert result.settings.precision in ("f32", "bf16", "f16")
        assert result.settings.requests == 1 and result.mode == "latency"


def test_settings_are_read_back_not_echoed(sep_cnn_xml):
    report = bench(sep_cnn_xml, config=EngineConfig(hint="latency", nthreads=1, precision="f32"), policy=SHORT)
    settings = report.results[0].settings
    assert settings.threads == 1 and settings.precision == "f32" and settings.streams == 1


def test_throughput_mode_uses_async_requests(sep_cnn_onnx):
    report = bench(sep_cnn_onnx, engines=("openvino", "onnxruntime"), config=EngineConfig(hint="throughput", nireq=3), policy=SHORT)
    for result in report.results:
        assert result.mode == "throughput" and result.settings.requests == 3
        assert result.latency.count >= 20 and result.throughput_fps > 0


def test_batch_scales_throughput_and_flops(sep_cnn_xml):
    result = bench(sep_cnn_xml, batch=4, policy=SHORT).results[0]
    assert result.batch == 4 and result.flops_per_inference == 4 * 926_808


def test_bench_json_and_latencies(sep_cnn_xml, tmp_path):
    target = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "flopbench", "bench", str(sep_cnn_xml), "-t", "0.3", "-niter", "10",
                           "--json", str(target), "--save-latencies"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    data = json.loads(target.read_text())
    assert data["schema"] == "flopbench/bench/1" and data["complete"] is True
    result = data["results"][0]
    assert len(result["latencies_ns"]["engine"]) == result["iterations"] == result["engine_latency"]["count"]
    assert data["metadata"]["versions"]["openvino"]
    assert "and throughput" in done.stdout and "openvino" in done.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_keeps_what_was_measured(sep_cnn_xml, tmp_path, sig):
    target = tmp_path / "partial.json"
    process = subprocess.Popen([sys.executable, "-m", "flopbench", "bench", str(sep_cnn_xml), "-t", "60",
                                "--json", str(target)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wait until the measurement is under way (flopbench says so on stderr), however slow the machine
    deadline = time.time() + 120
    first_line = ""
    while time.time() < deadline and "measuring" not in first_line:
        ready, _, _ = select.select([process.stderr], [], [], 1.0)
        if ready:
            first_line = process.stderr.readline()
            if not first_line:
                break
    assert "measuring openvino" in first_line, first_line
    time.sleep(0.5)
    process.send_signal(sig)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    data = json.loads(target.read_text())
    assert data["complete"] is False
    result = data["results"][0]
    assert result["stop_reason"] == "interrupted" and result["iterations"] > 0
    assert "INCOMPLETE" in out


def test_benchmark_app_habits_and_a_hard_cap(sep_cnn_xml, tmp_path):
    target = tmp_path / "capped.json"
    done = subprocess.run([sys.executable, "-m", "flopbench", "bench", "-m", str(sep_cnn_xml), "-t", "0.2",
                           "-niter", "1000000000", "--max-duration", "0.5", "--json", str(target)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(target.read_text())["results"][0]
    assert result["complete"] is False and result["stop_reason"] == "max duration"
    assert result["wall_s"] >= 0.5 and result["iterations"] < 1_000_000_000


# --- warnings: one line per fact, the detail with --verbose (issue 22, item 11) ------------------

def _fired(report) -> dict[str, set[str]]:
    """Which statistics rule fired on which engine, read from the results themselves."""
    fired: dict[str, set[str]] = {}
    for result in report.results:
        for stats in (result.engine_latency, result.call_latency):
            for warning in (stats.warnings if stats is not None else ()):
                fired.setdefault(warning.rule, set()).add(result.settings.engine)
    return fired


def test_two_engines_say_each_warning_once_naming_the_engines(sep_cnn_onnx):
    from dataclasses import replace

    from flopbench.render.bench import bench_table

    report = bench(sep_cnn_onnx, engines=("openvino", "onnxruntime"), policy=RunPolicy(warmup_iterations=1, min_duration_s=None, min_iterations=20))
    assert all(r.iterations == 20 for r in report.results)
    # what a machine with bf16 gets: the sessions' one fact about precisions, carried by both results
    shared = "the engines infer in different precisions (openvino bf16, onnxruntime f32): their times are not like with like"
    report = replace(report, results=tuple(replace(r, warnings=r.warnings + (shared,)) for r in report.results))
    fired = _fired(report)
    assert fired["too_few_samples"] == {"openvino", "onnxruntime"}  # 20 runs, p90 needs 44: a fact of both engines
    words = {"too_few_samples": "too few runs", "noisy": "noisy", "outliers": "outliers", "bimodal": "bimodal"}
    notes = bench_table(report).notes.splitlines()
    for rule, engines in fired.items():
        lines = [line for line in notes if words[rule] in line.lower()]
        assert len(lines) == 1, (rule, notes)
        assert all(engine in lines[0] for engine in engines), (rule, lines[0])
    assert sum(shared in line for line in notes) == 1, notes
    assert not any(line.startswith(("openvino engine latency:", "openvino call latency:")) for line in notes)
    detailed = bench_table(report, verbose=True).notes.splitlines()
    # the detail: every warning of every engine and kind of latency, in its own words
    assert any(line.strip().startswith("onnxruntime call latency: only 20 samples") for line in detailed), detailed
    assert any(line.strip().startswith("openvino engine latency: only 20 samples") for line in detailed), detailed
    assert len(detailed) > len(notes)


def test_bench_verbose_flag(sep_cnn_onnx):
    args = [sys.executable, "-m", "flopbench", "bench", str(sep_cnn_onnx), "--engine", "openvino,onnxruntime", "-niter", "20"]
    short = subprocess.run(args, capture_output=True, text=True, timeout=120)
    long = subprocess.run(args + ["--verbose"], capture_output=True, text=True, timeout=120)
    assert short.returncode == long.returncode == 0, short.stderr + long.stderr
    assert "only 20 samples" not in short.stdout and "--verbose" in short.stdout
    assert "onnxruntime call latency: only 20 samples" in long.stdout


def test_the_report_cards_say_what_each_engine_has(sep_cnn_onnx):
    # ONNX Runtime has no streams: its card says its intra-op threads, never "? stream(s)" (issue 22, item 13)
    from flopbench.render.bench import engine_cards

    report = bench(sep_cnn_onnx, engines=("openvino", "onnxruntime"), policy=RunPolicy(warmup_iterations=1, min_duration_s=None, min_iterations=5))
    ov, ort = report.results
    ov_cards, ort_cards = (" ".join(engine_cards(result)) for result in report.results)
    assert ort.settings.streams is None and "?" not in ort_cards and "stream" not in ort_cards
    assert f"{ort.settings.threads} intra-op thread(s)" in ort_cards
    assert f"{ov.settings.streams} stream(s)" in ov_cards and f"{ov.settings.threads} thread(s)" in ov_cards
