"""The join on recorded profiles: real OpenVINO and ONNX Runtime output of tests/data/profile_join.onnx
(fused nodes, unnamed nodes, inserted reorders), saved by tests/data/record_profiles.py. No engine
runs here: the inputs are what the engines reported, the truths are hand counts of the model."""
import json
from pathlib import Path

import pytest

import flopbench
from flopbench.counting import count_loaded
from flopbench.measure.engines import NodeTime
from flopbench.profiling.join import join, share
from flopbench.measure.engines.onnxruntime_nodes import OnnxNode, covered_nodes, graph_nodes, ops_by_onnx_node, resolve

DATA = Path(__file__).parent / "data"
MODEL = DATA / "profile_join.onnx"

# the model, counted by hand: input 1x3x32x32
CONV1_FLOPS = 2 * 16 * 32 * 32 * 3 * 3 * 3  # 3x3 conv, 3 -> 16 channels, same padding
CONV1_BIAS = CONV1_RELU = 16 * 32 * 32  # one add, one max per output element
DEPTHWISE_FLOPS = 2 * 16 * 32 * 32 * 3 * 3
POINTWISE_FLOPS = 2 * 24 * 32 * 32 * 16
BRANCH_FLOPS = 2 * 24 * 32 * 32 * 24  # each of the two 1x1 convolutions, 24 -> 24 channels


def recorded(engine: str) -> dict:
    data = json.loads((DATA / f"profile_join.{engine}.json").read_text())
    data["nodes"] = [NodeTime.from_dict(n) for n in data["nodes"]]
    return data


@pytest.fixture(scope="module")
def loaded():
    return flopbench.load(MODEL)


@pytest.fixture(scope="module")
def cost(loaded):
    # from the same reading: OpenVINO numbers the ops it names itself (Multiply_100) afresh each read
    return count_loaded(loaded)


def test_the_fixture_model_is_what_the_hand_counts_describe(cost):
    by_type = {}
    for op in cost.ops:
        by_type.setdefault(op.type, []).append(op)
    assert sorted(op.flops for op in by_type["Convolution"]) == sorted([CONV1_FLOPS, POINTWISE_FLOPS, BRANCH_FLOPS, BRANCH_FLOPS])
    assert by_type["GroupConvolution"][0].flops == DEPTHWISE_FLOPS
    assert [layer.type for layer in cost.layers] == ["Conv2D", "SeparableConv2D", "Conv2D", "Conv2D", "Concat",
                                                    "GlobalAvgPool2D", "Flatten", "FullyConnected", "Softmax"]


def _node_total(nodes) -> int:
    return sum(n.time_ns for n in nodes)


def test_openvino_join_covers_every_counted_op_and_keeps_every_nanosecond(cost):
    data = recorded("openvino")
    joined = join(cost, data["nodes"])
    assert joined.untimed_ops == ()
    assert [t.layer.name for t in joined.layers] == [layer.name for layer in cost.layers]
    # nothing lost, nothing made up: layers + inserted nodes = every time the engine reported
    assert joined.layers_ns + joined.inserted_ns == pytest.approx(_node_total(data["nodes"]))
    reorders = [n for n in joined.inserted if n.type == "Reorder"]
    assert reorders and all(not n.original_names for n in reorders)


def test_openvino_fused_node_is_shared_by_work(cost):
    """Conv + bias + ReLU ran as one node (unnamed in the model: OpenVINO named it after its output)."""
    data = recorded("openvino")
    fused = next(n for n in data["nodes"] if n.type == "Convolution" and "c1_relu" in n.original_names)
    assert len(fused.original_names) == 3
    joined = join(cost, data["nodes"])
    conv1 = next(t for t in joined.layers if t.layer.name == cost.op(fused.original_names[0]).layer)
    assert conv1.time_ns == pytest.approx(fused.time_ns)  # the whole node is its layer's
    ops = [cost.op(name) for name in fused.original_names]
    shares = share(fused, ops)
    total_work = CONV1_FLOPS + CONV1_BIAS + CONV1_RELU
    assert shares[0] == pytest.approx(fused.time_ns * CONV1_FLOPS / total_work)
    assert sum(shares) == pytest.approx(fused.time_ns)


def test_openvino_separable_parts_are_timed_apart(cost):
    data = recorded("openvino")
    joined = join(cost, data["nodes"])
    block = next(t for t in joined.layers if t.layer.type == "SeparableConv2D")
    depthwise, pointwise = block.parts
    dw_node = next(n for n in data["nodes"] if n.type == "GroupConvolution")
    pw_node = next(n for n in data["nodes"] if n.type == "Convolution" and "block/relu" in n.original_names)
    assert depthwise.time_ns == pytest.approx(dw_node.time_ns)
    assert pointwise.time_ns == pytest.approx(pw_node.time_ns)
    assert block.time_ns == pytest.approx(dw_node.time_ns + pw_node.time_ns)


def test_openvino_fully_connected_keeps_its_matmul_by_layer(cost):
    """OpenVINO's FullyConnected names the bias add and the ReLU, not the MatMul it absorbed."""
    data = recorded("openvino")
    joined = join(cost, data["nodes"])
    matmul = next(op for op in cost.ops if op.type == "MatMul")
    assert matmul.name not in {name for n in data["nodes"] for name in n.original_names}
    assert matmul.name in joined.joined_by_layer
    fc_node = next(n for n in data["nodes"] if n.type == "FullyConnected")
    fc = next(t for t in joined.layers if t.layer.type == "FullyConnected")
    assert fc.time_ns == pytest.approx(fc_node.time_ns)


def test_openvino_batch_norm_folded_into_its_convolution(cost):
    """OpenVINO folds a batch norm into the convolution before it; the node keeps a name it made up
    (Multiply_…) and the batch norm's, not the convolution's: the convolution is timed by that node."""
    data = recorded("openvino")
    joined = join(cost, data["nodes"])
    for branch in ("branch1", "branch2"):
        node = next(n for n in data["nodes"] if f"{branch}/bn" in n.original_names)
        assert node.type == "Convolution" and f"{branch}/conv" not in node.original_names
        assert f"{branch}/conv" in joined.joined_by_layer
        layer = next(t for t in joined.layers if t.layer.name == cost.op(f"{branch}/conv").layer)
        assert layer.time_ns == pytest.approx(node.time_ns)
        assert layer.kernels == (node.exec_type,)


def test_an_unnamed_op_joins_a_node_of_its_own_type_upstream(cost):
    """OpenVINO merges parallel 1×1 convolutions of one tensor into one node named after the first:
    the second's layer keeps only its ReLU's node, and its convolution is timed with the merged node."""
    conv1, conv2 = (cost.op(f"branch{i}/conv") for i in (1, 2))
    merged = NodeTime("branch1/conv", "Convolution", "brgconv_avx512_1x1_f32", 9000, ("branch1/conv",), inputs=("block",))
    relu2 = NodeTime("branch2/relu", "Eltwise", "jit_avx512_f32", 1000, ("branch2/bn", "branch2/relu"), inputs=("branch1/conv",))
    relu1 = NodeTime("branch1/relu", "Eltwise", "jit_avx512_f32", 1000, ("branch1/bn", "branch1/relu"), inputs=("branch1/conv",))
    joined = join(cost, [merged, relu1, relu2])
    assert conv2.name in joined.joined_by_layer
    layer2 = next(t for t in joined.layers if t.layer.name == conv2.layer)
    # the merged node's 9 µs shared by work between the two convolutions, the ReLU node's 1 µs over its ops
    assert conv1.flops == conv2.flops
    assert layer2.time_ns == pytest.approx(9000 / 2 + 1000)
    assert layer2.kernels == ("brgconv_avx512_1x1_f32",)


@pytest.fixture(scope="module")
def onnxruntime_resolved(cost, loaded):
    data = recorded("onnxruntime")
    optimized = [OnnxNode.from_dict(n) for n in data["optimized_graph"]]
    original = graph_nodes(MODEL)
    ops = ops_by_onnx_node(loaded.ov_model, original, {op.name for op in cost.ops})
    return data, optimized, original, resolve(data["nodes"], optimized, original, ops)


def test_onnxruntime_names_map_back_to_counted_ops(cost, onnxruntime_resolved):
    data, optimized, original, nodes = onnxruntime_resolved
    by_name = {n.name: n for n in nodes}
    # an unnamed node is traced as <OpType>_<index>, the index of the model's node
    index = next(i for i, node in enumerate(original) if node.op_type == "GlobalAveragePool")
    assert not original[index].name
    pool = by_name[f"GlobalAveragePool_{index}"]
    assert [cost.op(name).type for name in pool.original_names] == ["ReduceMean"]
    # the fused, relaid-out first convolution (unnamed in the model) covers conv, bias and ReLU
    conv1 = next(n for n in nodes if n.name.startswith("c1_relu"))
    assert sorted(cost.op(name).type for name in conv1.original_names) == ["Add", "Convolution", "Relu"]
    # Gemm + ReLU fused into one node covers the matmul, its bias and the ReLU
    fc = next(n for n in nodes if n.type == "FusedGemm")
    assert {cost.op(name).layer for name in fc.original_names} == {"fc"}
    assert "MatMul" in {cost.op(name).type for name in fc.original_names}
    # the reorder ONNX Runtime inserted covers nothing
    assert by_name["ReorderOutput"].original_names == ()


def test_onnxruntime_join_covers_every_counted_op(cost, onnxruntime_resolved):
    data, _, _, nodes = onnxruntime_resolved
    joined = join(cost, nodes)
    assert joined.untimed_ops == ()
    assert joined.joined_by_layer == ()
    assert joined.layers_ns + joined.inserted_ns == pytest.approx(_node_total(data["nodes"]))
    assert {n.type for n in joined.inserted} == {"ReorderOutput"}
    block = next(t for t in joined.layers if t.layer.type == "SeparableConv2D")
    dw_node = next(n for n in data["nodes"] if n.name == "dw_nchwc")
    assert block.parts[0].time_ns == pytest.approx(dw_node.time_ns)
    pool = next(t for t in joined.layers if t.layer.type == "GlobalAvgPool2D")
    assert pool.time_ns == pytest.approx(next(n for n in data["nodes"] if n.name.startswith("GlobalAveragePool_")).time_ns)


def test_covered_nodes_on_a_chain_of_relaid_out_convolutions():
    """Two NCHWc convolutions in a row: the first writes no original tensor, only its name says
    which one it computes; the reorder at the end belongs to neither."""
    original = [OnnxNode("", "Conv", ("x", "w1"), ("c1",)), OnnxNode("", "Relu", ("c1",), ("r1",)),
                OnnxNode("", "Conv", ("r1", "w2"), ("c2",)), OnnxNode("", "Relu", ("c2",), ("r2",))]
    optimized = [OnnxNode("r1_nchwc", "Conv", ("x", "w1"), ("t0",)), OnnxNode("r2_nchwc", "Conv", ("t0", "w2"), ("t1",)),
                 OnnxNode("ReorderOutput", "ReorderOutput", ("t1",), ("r2",))]
    assert covered_nodes(optimized, original) == {0: {0, 1}, 1: {2, 3}, 2: set()}


def test_a_separable_layers_folded_convolutions_join_their_own_parts_nodes(tmp_path, roofline_cache):
    """MobileNet's blocks, run for real: OpenVINO folds each batch norm into its convolution and names
    the node after a Multiply it made up, so neither convolution of a separable layer is named. Each
    must join the node of its own part (the depthwise its GroupConvolution), not the layer's slowest
    node: else the depthwise part is timed with the pointwise kernel and sits above its roof."""
    from flopbench.profiling.profile import profile
    from flopbench.zoo import write_zoo_model

    model = write_zoo_model("mobilenet_v1", tmp_path, fmt="onnx", alpha=0.25, resolution=32).onnx
    result = profile(model, "openvino", precision="f32", iterations=2, warmup=1, roofline=roofline_cache["openvino"])
    joined = join(flopbench.count(model), result.nodes)
    node_type = {node.name: node.type for node in result.nodes}
    blocks = [t for t in joined.layers if t.layer.type == "SeparableConv2D"]
    assert len(blocks) == 13
    for block in blocks:
        depthwise, pointwise = block.parts
        assert f"{block.layer.name}/depthwise" in joined.joined_by_layer  # the convolution no node names
        assert {node_type[n] for n in depthwise.nodes} == {"GroupConvolution"}, (block.layer.name, depthwise.nodes)
        assert {node_type[n] for n in pointwise.nodes} == {"Convolution"}, (block.layer.name, pointwise.nodes)
