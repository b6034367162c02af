"""Record real per-node profiles of a small model for the join tests (tests/test_profile_join.py).

The model has what makes the join hard: fused nodes (Conv + bias + ReLU, Gemm + ReLU), nodes
without names (ONNX Runtime calls them `<OpType>_<index>`; OpenVINO names their ops after their
outputs), a depthwise + pointwise pair (one SeparableConv2D layer), the reorders both engines
insert, a batch norm OpenVINO folds into its convolution (the node keeps only names OpenVINO made
up) and two 1×1 convolutions of one tensor that OpenVINO merges into one node (which keeps only the
first one's name). Run from the repository root:  PYTHONPATH=. python tests/data/record_profiles.py
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODEL = HERE / "profile_join.onnx"


def build_model(path: Path) -> None:
    import onnx
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(7)

    def weight(name, *shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.2).astype(np.float32), name)

    initializers = [weight("c1_w", 16, 3, 3, 3), weight("c1_b", 16), weight("dw_w", 16, 1, 3, 3),
                    weight("pw_w", 24, 16, 1, 1), weight("pw_b", 24), weight("fc_w", 48, 10), weight("fc_b", 10),
                    weight("bn_scale", 24), weight("bn_bias", 24), weight("bn_mean", 24),
                    numpy_helper.from_array(np.abs(rng.standard_normal(24)).astype(np.float32) + 0.5, "bn_var"),
                    weight("b1_w", 24, 24, 1, 1), weight("b2_w", 24, 24, 1, 1)]
    nodes = [
        helper.make_node("Conv", ["input", "c1_w", "c1_b"], ["c1"], pads=[1, 1, 1, 1]),  # unnamed
        helper.make_node("Relu", ["c1"], ["c1_relu"]),  # unnamed
        helper.make_node("Conv", ["c1_relu", "dw_w"], ["dw"], name="block/depthwise", group=16, pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["dw", "pw_w", "pw_b"], ["pw"], name="block/pointwise"),
        helper.make_node("Relu", ["pw"], ["pw_relu"], name="block/relu"),
        # two 1x1 convolutions of one tensor, each with a batch norm
        helper.make_node("Conv", ["pw_relu", "b1_w"], ["b1"], name="branch1/conv"),
        helper.make_node("BatchNormalization", ["b1", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["b1_bn"], name="branch1/bn"),
        helper.make_node("Relu", ["b1_bn"], ["b1_relu"], name="branch1/relu"),
        helper.make_node("Conv", ["pw_relu", "b2_w"], ["b2"], name="branch2/conv"),
        helper.make_node("BatchNormalization", ["b2", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["b2_bn"], name="branch2/bn"),
        helper.make_node("Relu", ["b2_bn"], ["b2_relu"], name="branch2/relu"),
        helper.make_node("Concat", ["b1_relu", "b2_relu"], ["branches"], name="concat", axis=1),
        helper.make_node("GlobalAveragePool", ["branches"], ["pool"]),  # unnamed
        helper.make_node("Flatten", ["pool"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["fc"], name="fc"),
        helper.make_node("Relu", ["fc"], ["fc_relu"]),  # unnamed
        helper.make_node("Softmax", ["fc_relu"], ["probabilities"], name="softmax"),
    ]
    graph = helper.make_graph(nodes, "profile_join",
                              [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1, 3, 32, 32])],
                              [helper.make_tensor_value_info("probabilities", onnx.TensorProto.FLOAT, [1, 10])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="flopbench tests")
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def record() -> None:
    from flopbench.measure.engines import EngineConfig, get_engine
    from flopbench.measure.engines.onnxruntime_nodes import graph_nodes

    build_model(MODEL)
    inputs = {"input": np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)}
    shapes = {"input": (1, 3, 32, 32)}
    openvino = get_engine("openvino").compile(str(MODEL), shapes, EngineConfig(precision="f32", profile=True))
    run = openvino.profiled_run(inputs, 200, warmup=10)
    (HERE / "profile_join.openvino.json").write_text(json.dumps(
        {"engine": "openvino", "engine_version": openvino.settings.engine_version, "iterations": run.iterations,
         "nodes": [node.to_dict() for node in run.nodes]}, indent=1) + "\n")
    ort = get_engine("onnxruntime").compile(str(MODEL), shapes, EngineConfig(profile=True))
    run = ort.profiled_run(inputs, 200, warmup=10)
    (HERE / "profile_join.onnxruntime.json").write_text(json.dumps(
        {"engine": "onnxruntime", "engine_version": ort.settings.engine_version, "iterations": run.iterations,
         "nodes": [node.to_dict() for node in run.nodes],
         "optimized_graph": [node.to_dict() for node in graph_nodes(ort.optimized_model_path)]}, indent=1) + "\n")


if __name__ == "__main__":
    record()
