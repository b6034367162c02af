"""Bytes after fusion: each engine node's bytes as it really ran them (inputs, weights, outputs in
the precision executed), beside the count's unfused bytes; a fused group is one roofline point.
Checked against a hand count of the tensors of a small residual block, run on both engines."""
import pytest

from flopbench.profiling.profile import profile

CHANNELS, SIDE = 64, 28
ACTIVATION = CHANNELS * SIDE * SIDE * 4  # one f32 activation tensor
WEIGHTS = CHANNELS * CHANNELS * 3 * 3 * 4 + CHANNELS * 4  # the 3×3 kernel and the bias, f32


@pytest.fixture(scope="module")
def residual_block(write_residual_block):
    """y = Relu(Conv3×3(x) + b + x): the residual block's Add and Relu run as one OpenVINO node."""
    return write_residual_block(CHANNELS, SIDE)


@pytest.mark.parametrize("engine", ["openvino", "onnxruntime"])
def test_executed_bytes_are_the_tensors_each_node_really_moved(residual_block, roofline_cache, engine):
    result = profile(residual_block, engine=engine, precision="f32" if engine == "openvino" else None,
                     iterations=5, warmup=1, roofline=roofline_cache[engine])
    rows = {row.name: row for row in result.layers}
    conv = rows["conv"]
    # the convolution node reads x and its weights and writes its output once: bias and the
    # convolution's own decomposition (the count's WithoutBiases + bias Add) are one node
    assert conv.executed_bytes == 2 * ACTIVATION + WEIGHTS
    assert conv.bytes > conv.executed_bytes  # the count moves the bias Add's tensor again
    assert conv.intensity == pytest.approx(conv.flops / conv.executed_bytes)
    assert conv.working_set_bytes == conv.executed_bytes
    assert conv.level == result.roofline.level_for(conv.working_set_bytes).name
    add, relu = rows["add"], rows["y"]
    if engine == "openvino":
        # Add and Relu are one node: it reads two tensors and writes one, shared over the two layers;
        # one group named after the Add, both on one point (the node's)
        assert add.executed_bytes + relu.executed_bytes == 3 * ACTIVATION
        assert relu.fused_into == "add" and add.fused == ("y",)
        assert add.working_set_bytes == relu.working_set_bytes == 3 * ACTIVATION
        assert add.intensity == pytest.approx(relu.intensity)
        assert add.gflops_per_s is None or add.gflops_per_s == pytest.approx(relu.gflops_per_s, rel=1e-6)
    else:  # ONNX Runtime runs them apart
        assert add.executed_bytes == 3 * ACTIVATION and relu.executed_bytes == 2 * ACTIVATION
        assert not relu.fused_into and not add.fused
    document = result.to_dict()
    assert document["layers"][0]["executed_bytes"] == rows[document["layers"][0]["name"]].executed_bytes
    from flopbench.results.schema import validate

    validate(document)


def test_the_roofline_draws_a_fused_group_once_under_every_level(residual_block, roofline_cache, tmp_path):
    from flopbench.render.profile import plot_bytes, roofline_points, roofline_section

    roof = roofline_cache["openvino"]
    result = profile(residual_block, engine="openvino", precision="f32", iterations=5, warmup=1, roofline=roof)
    drawn = [row.name for row in roofline_points(result)]
    assert "y" not in drawn  # the ReLU ran inside the Add's node: no point of its own
    svg = roofline_section([result])  # the report page's roofline
    assert "add + y (Add)" in svg  # the group's point, named after its main layer, listing what was fused
    for level in roof.levels:  # a ceiling per memory level measured, each labelled with its bandwidth
        if level.bandwidth_gb_per_s is None:  # no size it holds was measurable (a busy machine): no ceiling
            continue
        assert f"{level.name} {level.bandwidth_gb_per_s:,.1f} GB/s" in svg
    assert plot_bytes(result, "svg").count(b"GB/s") >= sum(1 for level in roof.levels if level.bandwidth_gb_per_s is not None)


@pytest.fixture(scope="module")
def fused_residual(tmp_path_factory):
    """y = Relu(Conv3×3(h) + b2 + h), h = Relu(Conv3×3(x) + b1): ONNX Runtime runs the second
    convolution, the residual Add and the Relu as one NCHWc node that reads h twice (its input and
    the sum) and the weights, and writes y once."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(0)
    initializers = [numpy_helper.from_array(rng.standard_normal((CHANNELS, CHANNELS, 3, 3)).astype(np.float32) * 0.1, name)
                    for name in ("w1", "w2")]
    initializers += [numpy_helper.from_array(rng.standard_normal(CHANNELS).astype(np.float32), name) for name in ("b1", "b2")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["h"], name="relu1"),
             helper.make_node("Conv", ["h", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "h"], ["r"], name="add"),
             helper.make_node("Relu", ["r"], ["y"], name="relu2")]
    shape = [1, CHANNELS, SIDE, SIDE]
    graph = helper.make_graph(nodes, "fused_residual", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, shape)], initializers)
    path = tmp_path_factory.mktemp("fused") / "fused_residual.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def _fused_group(layers):
    """The group the second convolution's node ran: conv2 with the Add and the Relu fused into it."""
    rows = {getattr(row, "name", None) or row.layer.name: row for row in layers}  # a profile's rows, or the join's
    conv2 = rows["conv2"]
    assert set(conv2.fused) == {"add", "y"}, conv2.fused
    return [conv2, rows["add"], rows["y"]]


def test_onnxruntime_compiled_graph_says_the_bytes_of_its_fused_nodes(fused_residual):
    """Without running: the optimized graph ONNX Runtime compiled (Conv + Add + Relu in one NCHWc
    node) gives each node's tensors; the fused node's bytes are the hand sum of its tensors."""
    from flopbench.counting import count_loaded
    from flopbench.measure.engines import EngineConfig, get_engine
    from flopbench.model.reading import load
    from flopbench.profiling.join import fused_groups, join

    loaded = load(fused_residual)
    cost = count_loaded(loaded)
    runner = get_engine("onnxruntime").compile(str(fused_residual), loaded.input_shapes(), EngineConfig(profile=True))
    try:
        nodes = runner.compiled_nodes(loaded, {op.name for op in cost.ops})
    finally:
        runner.close()
    fused = [node for node in nodes if {"add", "y"} <= set(node.original_names)]
    assert len(fused) == 1 and fused[0].time_ns == 0  # nothing was run
    # reads h as its input and again as the residual sum, and the 3×3 kernel and bias; writes y
    assert (fused[0].bytes_read, fused[0].bytes_written) == (2 * ACTIVATION + WEIGHTS, ACTIVATION)
    group = _fused_group(join(cost, nodes).layers)
    executed = sum(row.executed_bytes for row in group)
    assert executed == pytest.approx(3 * ACTIVATION + WEIGHTS)
    assert executed < sum(row.layer.bytes_read + row.layer.bytes_written for row in group)
    # the layout conversions it inserted (x into NCHWc, y out of it) move the tensor in and out
    reorders = [node for node in nodes if not node.original_names]
    assert reorders and all(node.bytes_read == node.bytes_written == ACTIVATION for node in reorders)


def test_onnxruntime_profile_and_compiled_graph_agree_on_a_fused_node(fused_residual, roofline_cache):
    """The profiler's own accounting of the node it ran (its inputs' and outputs' sizes) and the
    compiled graph's tensors say the same bytes: the profile's fused group moved the hand sum."""
    result = profile(fused_residual, engine="onnxruntime", iterations=3, warmup=1, roofline=roofline_cache["onnxruntime"])
    group = _fused_group(result.layers)
    assert sum(row.executed_bytes for row in group) == pytest.approx(3 * ACTIVATION + WEIGHTS, abs=3)
    assert sum(row.executed_bytes for row in group) < sum(row.bytes for row in group)
    assert all(row.working_set_bytes == 3 * ACTIVATION + WEIGHTS for row in group)
