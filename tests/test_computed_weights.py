"""Models whose weights are computed in the graph (ConstantOfShape, Expand, Mul of constants): the
`onnx` package's light models store a few bytes per weight and fill it at load time. Their weights
are reported once materialized beside as stored, counted in the memory budget, and folded before
`convert` and `quantize` rewrite them."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import flopbench

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "flopbench", *map(str, args)], capture_output=True, text=True, timeout=timeout)


def materialized_by_hand(path: Path) -> int:
    """Bytes of the weights once computed, read with the onnx package: every ConstantOfShape's output
    (its shape's product × its value's item size) and every float initializer, as stored."""
    model = onnx.load(path)
    initializers = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    total = sum(a.nbytes for a in initializers.values() if a.dtype.kind == "f")
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape":
            value = numpy_helper.to_array(node.attribute[0].t)
            total += int(np.prod(initializers[node.input[0]])) * value.itemsize
    return total


def test_vgg19_weights_are_reported_once_materialized_beside_as_stored():
    path = LIGHT / "light_vgg19.onnx"
    cost = flopbench.count(path)
    assert cost.params == 143_667_240
    assert cost.weight_bytes < 1_000  # as stored: the fill values and the biases
    # OpenVINO reads each of the three Gemms as MatMul × alpha: a 4-byte f32 scalar it stores
    gemms = sum(node.op_type == "Gemm" for node in onnx.load(path).graph.node)
    assert gemms == 3 and materialized_by_hand(path) == 4 * 143_667_240
    assert cost.materialized_weight_bytes == materialized_by_hand(path) + 4 * gemms
    shown = cli("flops", path)
    assert shown.returncode == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if line.startswith("Weights:"))
    assert "as stored" in line and "574,668,972 B (575 MB) once computed" in line
    document = json.loads(cli("flops", path, "--format", "json").stdout)
    assert document["totals"]["materialized_weight_bytes"] == 4 * 143_667_240 + 4 * gemms


def test_stored_weights_are_the_same_once_materialized(sep_cnn_onnx):
    cost = flopbench.count(sep_cnn_onnx)
    # every parameter stored as f32, nothing computed: once materialized is as stored
    assert cost.materialized_weight_bytes == cost.weight_bytes == 4 * cost.params


def test_the_memory_budget_counts_weights_once_materialized():
    path = LIGHT / "light_resnet50.onnx"
    cost = flopbench.count(path)
    weights = materialized_by_hand(path)
    assert cost.materialized_weight_bytes == weights
    shown = cli("flops", path, "--memory-budget", "16MiB", "--format", "json")
    budget = json.loads(shown.stdout)["memory_budget"]
    assert budget["weight_bytes"] == weights and budget["fits"] is False
    assert budget["needed_bytes"] == weights + cost.peak_activation_bytes
    table = cli("flops", path, "--memory-budget", "16MiB").stdout
    assert "does NOT fit" in table and "fits," not in table
