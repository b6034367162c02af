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
    for level in roof.levels:  # a ceiling per memory level, each labelled with its bandwidth
        assert f"{level.name} {level.bandwidth_gb_per_s:,.1f} GB/s" in svg
    assert plot_bytes(result, "svg").count(b"GB/s") >= len(roof.levels)
