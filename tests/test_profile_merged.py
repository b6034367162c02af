"""ONNX Runtime merges nodes that compute the same thing (common-subexpression elimination): the
node it keeps carries the time, the ones it merged away are named, and the nodes downstream keep
their own time. Checked on a real model ONNX Runtime really merges (its optimized graph says so)."""
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from flopbench.profiling.profile import profile
from flopbench.render.profile import to_table, warning_text


def twin_convs(path: Path) -> Path:
    """x → two 3×3 convolutions with the same weights → Concat → MaxPool."""
    weights = numpy_helper.from_array(np.random.default_rng(0).standard_normal((8, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"], name="conv_a", pads=[1] * 4),
             helper.make_node("Conv", ["x", "w"], ["b"], name="conv_b", pads=[1] * 4),
             helper.make_node("Concat", ["a", "b"], ["c"], name="concat", axis=1),
             helper.make_node("MaxPool", ["c"], ["y"], name="pool", kernel_shape=[2, 2], strides=[2, 2])]
    graph = helper.make_graph(nodes, "twins", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 16, 16])], [weights])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def test_onnxruntime_really_merges_the_twin_convolutions(tmp_path):
    import onnxruntime

    model = twin_convs(tmp_path / "twins.onnx")
    options = onnxruntime.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    optimized = onnx.load(str(tmp_path / "optimized.onnx")).graph.node
    assert [n.op_type for n in optimized].count("Conv") == 1
    concat = next(n for n in optimized if n.op_type == "Concat")
    assert concat.input[0] == concat.input[1]  # one tensor, read twice


def test_the_merged_convolution_is_named_and_the_time_stays_where_it_was_spent(tmp_path, roofline_cache):
    model = twin_convs(tmp_path / "twins.onnx")
    result = profile(model, engine="onnxruntime", iterations=10, warmup=2)
    rows = {row.name: row for row in result.layers}
    kept = [name for name in ("conv_a", "conv_b") if not rows[name].merged_into]
    merged = [name for name in ("conv_a", "conv_b") if rows[name].merged_into]
    assert len(kept) == 1 and len(merged) == 1
    assert rows[merged[0]].merged_into == kept[0] and rows[merged[0]].time_us == 0
    assert rows[merged[0]].bound == "merged"
    # each layer has its own node's time: the convolution's, the concatenation's, the pooling's
    by_type = {}
    for node in result.nodes:
        by_type.setdefault(node.type, []).append(node.time_ns / 1e3)
    assert len(by_type["Conv"]) == 1 and len(by_type["Concat"]) == 1 and len(by_type["MaxPool"]) == 1
    assert rows[kept[0]].time_us == pytest.approx(by_type["Conv"][0])
    assert rows["concat"].time_us == pytest.approx(by_type["Concat"][0])
    pool = next(row for row in result.layers if row.type == "MaxPool2D")  # named after its output, the model's
    assert pool.time_us == pytest.approx(by_type["MaxPool"][0])
    # named, not called untimed
    rules = {w.rule: w for w in result.warnings}
    assert "untimed_ops" not in rules
    assert rules["merged_ops"].data["ops"] == [{"op": merged[0], "into": kept[0]}]
    text = warning_text(rules["merged_ops"], result)
    assert merged[0] in text and kept[0] in text
    assert result.to_dict()["layers"][[r.name for r in result.layers].index(merged[0])]["merged_into"] == kept[0]
    table = "\n".join(str(cell) for row in to_table(result).rows for cell in row.cells)
    assert "merged" in table
