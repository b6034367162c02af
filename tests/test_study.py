"""The sepconv sweep: points as plain data, one point measured for real, a sweep that writes as it
goes, skips what is done and records failures; the command's files and schema."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from flopbench.errors import OptionError
from flopbench.render.study import render_study_page
from flopbench.results.schema import validate
from flopbench.study import sweep
from flopbench.study.sweep import QUICK, SweepOptions, check_point, generate_points, run_point, run_sweep

# tiny and short: 8 channels of 8×8, a twentieth of a second per measurement
TINY = {"in_channels": 8, "out_channels": 8, "kernel": 3, "size": 8, "stride": 1, "engine": "openvino", "precision": "f32",
        "seconds": 0.05, "repeats": 2, "profile_iterations": 3}


def test_points_are_plain_data_with_stable_keys():
    points = generate_points(QUICK)
    assert len(points) <= 16
    assert len(generate_points(SweepOptions())) == 3 * 2 * 2 * 2 * 3
    assert points == generate_points(QUICK)  # the same options, the same points
    assert len({p["key"] for p in points}) == len(points)
    assert points[0]["key"] == "c32-o32-k3-s28-st1-openvino-f32"
    assert json.loads(json.dumps(points)) == points  # JSON as they are, for a file or another machine
    assert {p["engine"] + ":" + p["precision"] for p in points} == set(sweep.CONFIGS)


@pytest.mark.parametrize("change, needle", [
    ({"kernel": 0}, "kernel 0 must be whole numbers of 1 or more"),
    ({"kernel": 9}, "kernel 9 is larger than the input (8)"),
    ({"engine": "tensorflow"}, "unknown engine 'tensorflow'"),
    ({"engine": "onnxruntime", "precision": "bf16"}, "unknown precision 'bf16' for onnxruntime"),
    ({"in_channels": 4096, "out_channels": 4096, "size": 512}, "GMAC layer"),
    ({"repeats": 0}, "--repeats 0 is out of range"),
])
def test_bad_points_are_refused(change, needle):
    with pytest.raises(OptionError) as caught:
        check_point({**TINY, **change})
    assert needle in str(caught.value)


def test_one_point_measured():
    # big enough that each part takes several µs: OpenVINO's profiler counts whole microseconds
    record = run_point({**TINY, "in_channels": 32, "out_channels": 32, "size": 16, "profile_iterations": 10})
    assert record.status == "done", record.reason
    # standard 32·32·9·256 MACs; separable 32·9·256 (depthwise) + 32·32·256 (pointwise)
    assert (record.flops.standard, record.flops.separable) == (2 * 2_359_296, 2 * (73_728 + 262_144))
    assert record.flop_ratio == pytest.approx(335_872 / 2_359_296)
    ratio = record.time_ratio
    assert len(ratio.repeats) == 2 and ratio.min <= ratio.median <= ratio.max
    latency = record.latency_us
    assert list(ratio.repeats) == [s / t for s, t in zip(latency.separable.repeats, latency.standard.repeats)]
    parts = record.parts
    assert parts.profile_error is None, parts
    assert parts.depthwise.share + parts.pointwise.share == pytest.approx(1.0)
    assert parts.depthwise.flops >= 2 * 73_728 and parts.depthwise_flop_share < 0.3
    assert parts.pointwise.intensity == pytest.approx(parts.pointwise.flops / parts.pointwise.bytes)
    assert record.settings["precision"] == "f32"


def test_sweep_writes_as_it_goes_skips_what_is_done_and_records_failures(tmp_path):
    failing = {**TINY, "device": "NOSUCHDEVICE", "key": "on-a-missing-device"}
    points = [TINY, failing]
    ran: list[str] = []

    def counting(point):
        ran.append(point["key"])
        return run_point(point)

    first = run_sweep(points, tmp_path, runner=counting)
    assert ran == [check_point(TINY)["key"], "on-a-missing-device"]
    assert [r.status for r in first.records] == ["done", "failed"]
    assert "NOSUCHDEVICE" in first.records[1].reason
    document = json.loads((tmp_path / "results.json").read_text())
    validate(document)
    assert document["complete"] is True and len(document["records"]) == 2
    assert json.loads((tmp_path / "points.json").read_text())["points"] == [check_point(p) for p in points]

    ran.clear()
    again = run_sweep(points, tmp_path, runner=counting)
    assert ran == ["on-a-missing-device"]  # the done point is skipped; the failed one is tried again
    assert again.skipped == (check_point(TINY)["key"],)
    assert again.records[0] == first.records[0]


def test_an_interrupted_sweep_keeps_what_was_done(tmp_path):
    second = {**TINY, "kernel": 5}

    def interrupted_on_the_second(point):
        if point["kernel"] == 5:
            raise KeyboardInterrupt
        return run_point(point)

    result = run_sweep([TINY, second], tmp_path, runner=interrupted_on_the_second)
    assert result.interrupted and not result.complete
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["complete"] is False and [r["key"] for r in document["records"]] == [check_point(TINY)["key"]]
    # read back, from the folder: the record done and both points planned (from points.json beside it)
    earlier = sweep.load_sweep(tmp_path)
    assert [p["key"] for p in earlier.points] == [check_point(TINY)["key"], check_point(second)["key"]]
    assert earlier.records == result.records and not earlier.complete
    # the results file alone (sent without its points.json): still one of two points, incomplete
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "results.json").write_bytes((tmp_path / "results.json").read_bytes())
    received = sweep.load_sweep(alone)
    assert len(received.points) == 1 and received.planned_count == 2 and not received.complete
    assert received.to_dict()["points"] == document["points"] == 2
    page = render_study_page(received)
    assert "1 of 2 points (incomplete)" in page and "INCOMPLETE: 1 of 2 points measured" in page


def test_the_command_writes_points_results_plot_and_summary(tmp_path):
    points = tmp_path / "points.json"
    points.write_text(json.dumps([TINY, {**TINY, "engine": "onnxruntime"}]))
    out = tmp_path / "study"
    done = subprocess.run([sys.executable, "-m", "flopbench", "study", "sepconv", "--points", str(points), "-o", str(out),
                           "--format", "json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    validate(printed)
    assert printed == json.loads((out / "results.json").read_text())
    assert [r["status"] for r in printed["records"]] == ["done", "done"]
    assert (out / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (out / "summary.md").read_text()
    assert "openvino:f32: the separable layer needs a median 0.236× the FLOPs" in summary
    assert "onnxruntime:f32:" in summary
    again = subprocess.run([sys.executable, "-m", "flopbench", "study", "sepconv", "--points", str(points), "-o", str(out)],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "2 point(s) already done" in again.stderr


def test_a_part_too_short_to_time_leaves_its_point_out_of_the_split():
    """Parts timed at 0 µs (an 8×8 layer on a busy node) have no share of the time: the page still
    renders, without that point's bar in the depthwise / pointwise split."""
    from dataclasses import replace
    from pathlib import Path

    import flopbench

    result = flopbench.load_result(Path(__file__).resolve().parent.parent / "docs" / "sepconv-study" / "results.json")
    first, second = result.records[:2]
    assert first.parts.depthwise.share is not None and second.parts.depthwise.share is not None
    untimed = replace(first.parts.depthwise, time_us=0.0, share=None)
    page = render_study_page(replace(result, records=(replace(first, parts=replace(first.parts, depthwise=untimed)), *result.records[1:])))
    assert f"{first.key}: the depthwise part takes" not in page and f"{second.key}: the depthwise part takes" in page


RECORDED_CALIBRATION = __import__("pathlib").Path(__file__).parent / "data" / "calibration_openvino_f32.json"


def _calibrated_cache(folder, monkeypatch, with_rooflines: bool = False):
    """FLOPBENCH_CACHE_DIR set to `folder`, holding the recorded OpenVINO f32 calibration where this
    machine's would be (what `flopbench predict --calibrate` leaves), and the session's quick
    rooflines when asked."""
    import os
    import shutil

    from flopbench.profiling.calibration import calibration_path

    if with_rooflines:
        shutil.copytree(os.environ["FLOPBENCH_CACHE_DIR"], folder, dirs_exist_ok=True)
    monkeypatch.setenv("FLOPBENCH_CACHE_DIR", str(folder))
    target = calibration_path("openvino", precision="f32", quick=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(RECORDED_CALIBRATION, target)
    return folder


def test_a_point_puts_the_predicted_time_ratio_beside_the_measured_one(tmp_path, monkeypatch, roofline_cache):
    """With a calibration cached for the point's engine and precision, the point records what it
    predicts for each layer before timing them; without one, no prediction and no error."""
    from flopbench.converting.convert import convert
    from flopbench.profiling.calibration import read_calibration
    from flopbench.profiling.predict import predict

    point = {**TINY, "in_channels": 32, "out_channels": 32, "size": 16, "repeats": 1, "profile_iterations": 2}
    _calibrated_cache(tmp_path / "cache", monkeypatch)
    record = run_point(point, roofline=roofline_cache["openvino"])
    assert record.status == "done", record.reason
    predicted = record.predicted
    assert predicted.time_ratio == pytest.approx(predicted.separable_us / predicted.standard_us)
    assert 0 < predicted.time_ratio < 1  # 7× fewer FLOPs: predicted faster, as measured or not
    assert predicted.calibration_measured_at == read_calibration(RECORDED_CALIBRATION).measured_at
    # the same layers predicted apart, from files made the same way, give the same times
    standard = sweep.standard_layer(tmp_path / "standard.onnx", check_point(point))
    separable = convert(standard, "separable", tmp_path / "separable.onnx", seed=0)
    calibration = read_calibration(RECORDED_CALIBRATION)
    assert predicted.standard_us == pytest.approx(predict(standard, "openvino", precision="f32", calibration=calibration).predicted_latency_us)
    assert predicted.separable_us == pytest.approx(predict(tmp_path / "separable.onnx", "openvino", precision="f32",
                                                           calibration=calibration).predicted_latency_us)
    validate(sweep.SweepResult(records=(record,), metadata={}).to_dict())
    page = render_study_page(sweep.SweepResult(records=(record,), metadata={}))
    assert "Predicted ratio" in page and f">{predicted.time_ratio:,.3f}<" in page
    monkeypatch.setenv("FLOPBENCH_CACHE_DIR", str(tmp_path / "empty"))
    plain = run_point(point, roofline=roofline_cache["openvino"])
    assert plain.predicted is None
    assert "Predicted ratio" not in render_study_page(sweep.SweepResult(records=(plain,), metadata={}))


def test_the_command_shows_the_predicted_ratio_or_says_how_to_calibrate(tmp_path, monkeypatch, roofline_cache):
    points = tmp_path / "points.json"
    points.write_text(json.dumps([{**TINY, "repeats": 1, "profile_iterations": 2}]))
    command = [sys.executable, "-m", "flopbench", "study", "sepconv", "--points", str(points)]
    # the session's rooflines without any calibration an earlier test left in the session's cache
    import os
    import shutil

    bare = tmp_path / "bare-cache"
    shutil.copytree(os.environ["FLOPBENCH_CACHE_DIR"], bare)
    for calibration in bare.rglob("calibration-*"):
        calibration.unlink() if calibration.is_file() else shutil.rmtree(calibration)
    plain = subprocess.run([*command, "-o", str(tmp_path / "plain")], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "FLOPBENCH_CACHE_DIR": str(bare)})
    assert plain.returncode == 0, plain.stderr
    assert "no predicted time ratio for openvino:f32" in plain.stderr
    assert "flopbench predict --calibrate --engine openvino" in plain.stderr
    assert "Pred. ratio" not in plain.stdout
    _calibrated_cache(tmp_path / "cache", monkeypatch, with_rooflines=True)
    monkeypatch.setenv("COLUMNS", "250")
    calibrated = subprocess.run([*command, "-o", str(tmp_path / "calibrated")], capture_output=True, text=True, timeout=300)
    assert calibrated.returncode == 0, calibrated.stderr
    assert "no predicted time ratio" not in calibrated.stderr
    record = json.loads((tmp_path / "calibrated" / "results.json").read_text())["records"][0]
    assert f"{record['predicted']['time_ratio']:.3f}" in calibrated.stdout and "Pred. ratio" in calibrated.stdout
    assert "predicted" in (tmp_path / "calibrated" / "summary.md").read_text()
