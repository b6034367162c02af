"""`compare`: counts from the counter, times from bench, ratios to the first model; every output format."""
from __future__ import annotations

import csv
import io
import json

import pytest

from flopbench.cli.main import main
from flopbench.measure.policy import RunPolicy
from flopbench.results.schema import validate
from flopbench.comparing.compare import compare

QUICK = RunPolicy(warmup_iterations=1, min_duration_s=0.1, min_iterations=5)


def test_counts_and_ratios(zoo_dir):
    result = compare([zoo_dir / "std_cnn.xml", zoo_dir / "sep_cnn.xml"], policy=QUICK)
    # the exercise's hand counts: sep_cnn 463,404 MACs; std_cnn 10·26·26·9 + 5·24·24·90 + 368,640 + 1,280
    assert result.row("macs").values == (689_960, 463_404)
    assert result.row("macs").ratios == (1.0, 463_404 / 689_960)
    assert result.row("flops").values == (2 * 689_960, 926_808)
    assert result.row("params").values == (370_613, 370_232)
    assert [r.settings.engine for r in result.results] == ["openvino", "openvino"]
    assert [r.model for r in result.results] == [str(zoo_dir / "std_cnn.xml"), str(zoo_dir / "sep_cnn.xml")]
    median = result.row("latency_median_ns", "openvino")
    assert median.values == tuple(r.latency.median_ns for r in result.results)
    assert median.ratios[1] == pytest.approx(median.values[1] / median.values[0])
    achieved = result.row("gflops_per_s", "openvino").values
    assert achieved == tuple(r.gflops_per_s for r in result.results) and all(v > 0 for v in achieved)
    assert result.complete


def test_both_engines_in_every_format(zoo_dir, tmp_path, capfd):
    models = [str(zoo_dir / "sep_cnn.onnx"), str(zoo_dir / "std_cnn.onnx")]
    flags = ["--engine", "openvino,onnxruntime", "-t", "0.1", "-niter", "5", "--warmup", "1"]
    assert main(["compare", *models, *flags, "-o", str(tmp_path / "c.json")]) == 0
    document = json.loads((tmp_path / "c.json").read_text())
    validate(document)
    assert document["engines"] == ["openvino", "onnxruntime"] and len(document["results"]) == 4
    medians = [row for row in document["rows"] if row["metric"] == "latency_median_ns"]
    assert [row["engine"] for row in medians] == ["openvino", "onnxruntime"]
    assert all(v > 0 for row in medians for v in row["values"])

    capfd.readouterr()
    assert main(["compare", *models, *flags, "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capfd.readouterr().out)))
    assert rows[0] == ["metric", "unit", "engine", *models, f"ratio:{models[1]}"]
    assert rows[1][:5] == ["macs", "", "", "463404", "689960"] and float(rows[1][5]) == pytest.approx(689_960 / 463_404)
    assert len(rows) == 1 + 4 + 2 * 4

    assert main(["compare", *models, *flags, "-o", str(tmp_path / "c.md")]) == 0
    markdown = (tmp_path / "c.md").read_text()
    assert markdown.startswith("| Metric | sep_cnn.onnx | std_cnn.onnx | std_cnn.onnx / sep_cnn.onnx |")
    assert "| MACs | 463,404 | 689,960 | 1.489× |" in markdown


def test_one_model_is_refused_before_measuring(zoo_dir):
    from flopbench.errors import OptionError

    with pytest.raises(OptionError, match="compare needs at least two models, got 1"):
        compare([zoo_dir / "sep_cnn.xml"], policy=QUICK)


def test_by_layer_puts_the_profiled_layers_side_by_side(zoo_dir):
    result = compare([zoo_dir / "std_cnn.xml", zoo_dir / "sep_cnn.xml"], policy=QUICK, by="layer", profile_iterations=5)
    by_name = {m.name: m for m in result.layers}
    # twins share their layers' names: std_cnn's conv1 is sep_cnn's conv1, a SeparableConv2D (issue 22, item 12)
    assert by_name["conv1"].types == ("Conv2D", "SeparableConv2D")
    assert by_name["conv2"].types == ("Conv2D", "SeparableConv2D")
    assert by_name["conv1"].flops[0] > by_name["conv1"].flops[1] > 0  # the separable one does less work
    assert all(t is not None for t in by_name["conv1"].time_us)
    assert by_name["fc1"].types == ("FullyConnected", "FullyConnected")
    assert by_name["fc1"].flops == (737_280 + 128 + 128, 737_280 + 128 + 128)  # the profiler counts bias and ReLU too
    assert all(t is not None and t >= 0 for t in by_name["fc1"].time_us)
    assert by_name["fc1"].ratios[1] == pytest.approx(by_name["fc1"].time_us[1] / by_name["fc1"].time_us[0])
    assert [m.engine for m in result.layers] == ["openvino"] * len(result.layers)
    validate(json.loads(json.dumps(result.to_dict())))
