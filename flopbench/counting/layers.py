"""Group ops into the layers a person thinks in.

- A convolution or matmul takes the ops that follow it through a single path and only do
  elementwise work with constants (bias add, scale, batch norm, activation): one layer.
- A depthwise convolution layer whose only consumer is a 1×1 stride-1 convolution layer becomes one
  `SeparableConv2D`, with the two as its `parts` (depthwise, pointwise), as the seed exercise
  writes it.
- A matmul with constant weights is a `FullyConnected` layer.
- Every other op is a layer of its own, named after it.
"""
from __future__ import annotations

import os
import re
from dataclasses import replace
from typing import Any

from .cost import LayerCost, OpCost
from .graph import static_shape
from .optypes import ANCHORS, EPILOGUE, POOLS, TRANSPOSED_CONVOLUTIONS


def _data_inputs(node, constants: set[str]) -> list[Any]:
    return [node.input_value(i).get_node() for i in range(node.get_input_size())
            if node.input_value(i).get_node().get_name() not in constants]


def _data_consumers(node, constants: set[str]) -> list[Any]:
    """Ops that read this node's values (not Results, not static-shape queries)."""
    if node.get_output_size() != 1:
        return []
    return [target.get_node() for target in node.output(0).get_target_inputs()
            if target.get_node().get_type_name() != "Result" and target.get_node().get_name() not in constants]


def _is_depthwise(op: OpCost) -> bool:
    if len(op.input_shapes) < 2 or len(op.input_shapes[1]) < 3:
        return False
    if op.type == "GroupConvolution":
        return op.input_shapes[1][2] == 1  # one input channel per group
    # ONNX Conv with group = C_in = 1 reads back as a plain Convolution: depthwise all the same
    return op.type == "Convolution" and op.input_shapes[1][0] == 1 and op.input_shapes[1][1] == 1


def _is_pointwise(op: OpCost, node) -> bool:
    if op.type != "Convolution" or not op.kernel or any(k != 1 for k in op.kernel):
        return False
    attrs = node.get_attributes()
    return all(s == 1 for s in attrs.get("strides", [1])) and all(p == 0 for p in list(attrs.get("pads_begin", [])) + list(attrs.get("pads_end", [])))


def _layer_type(op: OpCost, node, constants: set[str]) -> str:
    rank = len(op.output_shapes[0]) - 2 if op.output_shapes and op.output_shapes[0] else 0
    dims = f"{rank}D" if rank > 0 else ""
    kind = op.type
    if kind == "Convolution":
        return f"DepthwiseConv{dims}" if _is_depthwise(op) else f"Conv{dims}"
    if kind == "GroupConvolution":
        return f"DepthwiseConv{dims}" if _is_depthwise(op) else f"GroupConv{dims}"
    if kind in TRANSPOSED_CONVOLUTIONS:
        return f"ConvTranspose{dims}"
    if kind == "DeformableConvolution":
        return f"DeformableConv{dims}"
    if kind == "MatMul":
        weighted = any(node.input_value(i).get_node().get_name() in constants for i in range(node.get_input_size()))
        return "FullyConnected" if weighted else "MatMul"
    if kind in POOLS:
        return f"{kind}{dims}"
    if kind in ("ReduceMean", "ReduceMax") and op.input_shapes and op.output_shapes and len(op.input_shapes[0]) > 2:
        spatial_in, spatial_out = op.input_shapes[0][2:], op.output_shapes[0][2:]
        # ONNX GlobalAveragePool / GlobalMaxPool read back as a reduction over every spatial axis
        if op.output_shapes[0][:2] == op.input_shapes[0][:2] and len(spatial_out) == len(spatial_in) and all(d == 1 for d in spatial_out):
            return f"Global{'Avg' if kind == 'ReduceMean' else 'Max'}Pool{len(spatial_in)}D"
    if kind in ("Reshape", "Squeeze", "Unsqueeze") and op.input_shapes and op.output_shapes:
        if len(op.output_shapes[0]) == 2 and len(op.input_shapes[0]) > 2:
            return "Flatten"
    return kind


def layer_name(op_name: str) -> str:
    """OpenVINO's ONNX reader splits Conv-with-bias into `<name>/WithoutBiases` + an Add named
    `<name>`: the layer is `<name>`."""
    return op_name.removesuffix("/WithoutBiases")


def _generated(op: OpCost) -> bool:
    """A name OpenVINO made up (`ConvolutionBackpropData_4`), not one from the model file."""
    return re.fullmatch(rf"{re.escape(op.type)}_\d+", op.name) is not None


def _group_name(ops: list[OpCost]) -> str:
    """The anchor's name, unless OpenVINO made it up and a later op of the layer kept the model's
    name (its ONNX reader gives a node's name to the op that produces the node's output: the bias
    add after a ConvTranspose)."""
    if _generated(ops[0]):
        for op in ops[1:]:
            if not _generated(op):
                return layer_name(op.name)
    return layer_name(ops[0].name)


def _input_shape(node, constants: set[str]) -> tuple[int, ...] | None:
    """The shape of the first input that is not a constant: what flows into the layer."""
    for i in range(node.get_input_size()):
        if node.input_value(i).get_node().get_name() not in constants:
            return static_shape(node.get_input_partial_shape(i))
    return None


def _make_layer(name: str, kind: str, ops: list[OpCost], anchor_node, constants: set[str], role: str = "") -> LayerCost:
    tail = ops[-1]
    return LayerCost(
        name=name, type=kind, ops=tuple(ops),
        input_shape=_input_shape(anchor_node, constants),
        output_shape=tail.output_shapes[0] if tail.output_shapes else None,
        kernel=ops[0].kernel, kernels=ops[0].kernels, role=role,
    )


def _separable_name(depthwise: str, pointwise: str) -> str:
    prefix = os.path.commonprefix([depthwise, pointwise]).rstrip("/_.:-")
    return prefix if prefix else f"{depthwise}+{pointwise}"


def group_layers(rows: list[tuple[Any, OpCost]], constants: set[str]) -> tuple[tuple[LayerCost, ...], tuple[OpCost, ...]]:
    """Return the layers and the ops (each op now naming its layer), both in graph order."""
    row_by_node = {node.get_name(): (node, op) for node, op in rows}
    assigned: set[str] = set()
    groups: list[tuple[list[Any], list[OpCost]]] = []
    for node, op in rows:
        if node.get_name() in assigned:
            continue
        nodes, ops = [node], [op]
        assigned.add(node.get_name())
        if op.type in ANCHORS:
            tail = node
            while True:
                consumers = _data_consumers(tail, constants)
                if len(consumers) != 1:
                    break
                following = consumers[0]
                key = following.get_name()
                if key in assigned or key not in row_by_node or following.get_type_name() not in EPILOGUE:
                    break
                if [n.get_name() for n in _data_inputs(following, constants)] != [tail.get_name()]:
                    break
                nodes.append(following)
                ops.append(row_by_node[key][1])
                assigned.add(key)
                tail = following
        groups.append((nodes, ops))

    # merge depthwise + pointwise into SeparableConv2D
    anchor_of = {nodes[0].get_name(): index for index, (nodes, _) in enumerate(groups)}
    merged_into: dict[int, int] = {}
    for index, (nodes, ops) in enumerate(groups):
        if not _is_depthwise(ops[0]) or index in merged_into:
            continue
        consumers = _data_consumers(nodes[-1], constants)
        if len(consumers) != 1 or consumers[0].get_name() not in anchor_of:
            continue
        follower = anchor_of[consumers[0].get_name()]
        f_nodes, f_ops = groups[follower]
        if follower in merged_into or not _is_pointwise(f_ops[0], f_nodes[0]):
            continue
        merged_into[follower] = index

    layers: list[LayerCost] = []
    named_ops: dict[str, OpCost] = {}
    pointwise_of = {dw: pw for pw, dw in merged_into.items()}
    for index, (nodes, ops) in enumerate(groups):
        if index in merged_into:
            continue
        if index in pointwise_of:
            pw_nodes, pw_ops = groups[pointwise_of[index]]
            rank = len(ops[0].output_shapes[0]) - 2 if ops[0].output_shapes[0] else 2
            name = _separable_name(_group_name(ops), _group_name(pw_ops))
            depthwise = _make_layer(_group_name(ops), _layer_type(ops[0], nodes[0], constants), [replace(o, layer=name) for o in ops], nodes[0], constants, role="depthwise")
            pointwise = _make_layer(_group_name(pw_ops), _layer_type(pw_ops[0], pw_nodes[0], constants), [replace(o, layer=name) for o in pw_ops], pw_nodes[0], constants, role="pointwise")
            layer = LayerCost(
                name=name, type=f"SeparableConv{rank}D", ops=depthwise.ops + pointwise.ops,
                input_shape=depthwise.input_shape, output_shape=pointwise.output_shape,
                kernel=depthwise.kernel, kernels=pointwise.kernels, parts=(depthwise, pointwise),
            )
        else:
            name = _group_name(ops)
            layer = _make_layer(name, _layer_type(ops[0], nodes[0], constants), [replace(o, layer=name) for o in ops], nodes[0], constants)
        layers.append(layer)
        member_nodes = nodes + (groups[pointwise_of[index]][0] if index in pointwise_of else [])
        for node, op in zip(member_nodes, layer.ops):
            named_ops[node.get_name()] = op
    ordered_ops = tuple(named_ops[node.get_name()] for node, _ in rows)
    return tuple(layers), ordered_ops
