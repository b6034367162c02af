"""Real outputs validate against the shipped, versioned JSON schemas."""
import json
import subprocess
import sys

import jsonschema
import pytest

from flopbench.results.schema import load_schema, validate


def test_count_json_validates(sep_cnn_onnx, tmp_path):
    target = tmp_path / "count.json"
    subprocess.run([sys.executable, "-m", "flopbench", "flops", str(sep_cnn_onnx), "--format", "json", "-o", str(target)], check=True, timeout=120)
    validate(json.loads(target.read_text()))


def test_bench_json_validates_and_rejects_tampering(sep_cnn_onnx, tmp_path):
    target = tmp_path / "bench.json"
    subprocess.run([sys.executable, "-m", "flopbench", "bench", str(sep_cnn_onnx), "--engine", "openvino,onnxruntime",
                    "-t", "0.2", "-niter", "5", "--json", str(target), "--save-latencies"], check=True, timeout=120, capture_output=True)
    document = json.loads(target.read_text())
    validate(document)
    document["results"][0]["mode"] = "fast"
    with pytest.raises(jsonschema.ValidationError):
        validate(document)


def test_run_json_validates(sep_cnn_xml, image_npy, tmp_path):
    target = tmp_path / "run.json"
    subprocess.run([sys.executable, "-m", "flopbench", "run", str(sep_cnn_xml), "-i", str(image_npy), "--json", str(target)],
                   check=True, timeout=120, capture_output=True)
    document = json.loads(target.read_text())
    validate(document)
    assert document["iterations"] == 10 and document["top_class"] == 1


def test_schemas_are_shipped_and_versioned():
    for kind in ("count", "bench", "run"):
        schema = load_schema(kind)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"] == f"flopbench/{kind}/1"
