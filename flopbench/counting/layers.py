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

from .cost import LayerCost, OpCost
from .graph import GraphNode
from .optypes import op_facts


def _data_inputs(record: GraphNode, constants: set[str]) -> list[str]:
    """Names of the ops whose values this op reads (not constants), once per input."""
    return [name for name, _ in record.sources if name not in constants]


def _data_consumers(record: GraphNode) -> list[GraphNode]:
    """Ops that read this op's values (not Results, not static-shape queries), once per input."""
    return record.consumers if len(record.outputs) == 1 else []


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


def _layer_type(op: OpCost, record: GraphNode, constants: set[str]) -> str:
    rank = len(op.output_shapes[0]) - 2 if op.output_shapes and op.output_shapes[0] else 0
    dims = f"{rank}D" if rank > 0 else ""
    kind = op.type
    facts = op_facts(kind)
    if facts.kind == "conv":
        return f"DepthwiseConv{dims}" if _is_depthwise(op) else f"{facts.layer}{dims}"
    if facts.kind == "matmul":
        weighted = any(name in constants for name, _ in record.sources)
        return "FullyConnected" if weighted else facts.layer or kind
    if facts.kind == "pool":
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


def _numbered(op: OpCost) -> bool:
    """A name OpenVINO made up and numbered (`ConvolutionBackpropData_4`): a model object's; a
    file's ops are renamed after the op they feed when it is read (`model/names.py`)."""
    prefix = f"{op.type}_"
    return op.name.startswith(prefix) and op.name[len(prefix):].isdecimal()  # isdecimal: the digits \d matches


def _group_name(ops: list[OpCost]) -> str:
    """The anchor's name, unless OpenVINO made it up and a later op of the layer kept the model's
    name (its ONNX reader gives a node's name to the op that produces the node's output: the bias
    add after a ConvTranspose, whose own op is then `deconv/ConvolutionBackpropData`)."""
    anchor = ops[0]
    for op in ops[1:]:
        if (_numbered(anchor) or anchor.name.startswith(op.name + "/")) and not _numbered(op):
            return layer_name(op.name)
    return layer_name(anchor.name)


def _input_shape(record: GraphNode, constants: set[str]) -> tuple[int, ...] | None:
    """The shape of the first input that is not a constant: what flows into the layer."""
    for (name, _), tensor in zip(record.sources, record.inputs):
        if name not in constants:
            return tensor.shape
    return None


def _with_layer(op: OpCost, layer: str) -> OpCost:
    """`op` naming its layer: `dataclasses.replace` without its per-field work (a count makes one
    per op), for a frozen dataclass with no __post_init__."""
    named = object.__new__(OpCost)
    named.__dict__.update(op.__dict__)
    named.__dict__["layer"] = layer
    return named


def _make_layer(name: str, kind: str, ops: list[OpCost], anchor: GraphNode, constants: set[str], role: str = "") -> LayerCost:
    tail = ops[-1]
    return LayerCost(
        name=name, type=kind, ops=tuple(ops),
        input_shape=_input_shape(anchor, constants),
        output_shape=tail.output_shapes[0] if tail.output_shapes else None,
        kernel=ops[0].kernel, kernels=ops[0].kernels, role=role,
    )


def _separable_name(depthwise: str, pointwise: str) -> str:
    prefix = os.path.commonprefix([depthwise, pointwise]).rstrip("/_.:-")
    return prefix if prefix else f"{depthwise}+{pointwise}"


def group_layers(rows: list[tuple[GraphNode, OpCost]], constants: set[str]) -> tuple[tuple[LayerCost, ...], tuple[OpCost, ...]]:
    """Return the layers and the ops (each op now naming its layer), both in graph order."""
    row_of = {record.name: op for record, op in rows}
    assigned: set[str] = set()
    groups: list[tuple[list[GraphNode], list[OpCost]]] = []
    for record, op in rows:
        if record.name in assigned:
            continue
        nodes, ops = [record], [op]
        assigned.add(record.name)
        if op_facts(op.type).starts_layer:
            tail = record
            while True:
                consumers = _data_consumers(tail)
                if len(consumers) != 1:
                    break
                following = consumers[0]
                key = following.name
                if key in assigned or key not in row_of or not op_facts(following.type).epilogue:
                    break
                if _data_inputs(following, constants) != [tail.name]:
                    break
                nodes.append(following)
                ops.append(row_of[key])
                assigned.add(key)
                tail = following
        groups.append((nodes, ops))

    # merge depthwise + pointwise into SeparableConv2D
    anchor_of = {nodes[0].name: index for index, (nodes, _) in enumerate(groups)}
    merged_into: dict[int, int] = {}
    for index, (nodes, ops) in enumerate(groups):
        if not _is_depthwise(ops[0]) or index in merged_into:
            continue
        consumers = _data_consumers(nodes[-1])
        if len(consumers) != 1 or consumers[0].name not in anchor_of:
            continue
        follower = anchor_of[consumers[0].name]
        f_nodes, f_ops = groups[follower]
        if follower in merged_into or not _is_pointwise(f_ops[0], f_nodes[0].node):
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
            depthwise = _make_layer(_group_name(ops), _layer_type(ops[0], nodes[0], constants), [_with_layer(o, name) for o in ops], nodes[0], constants, role="depthwise")
            pointwise = _make_layer(_group_name(pw_ops), _layer_type(pw_ops[0], pw_nodes[0], constants), [_with_layer(o, name) for o in pw_ops], pw_nodes[0], constants, role="pointwise")
            layer = LayerCost(
                name=name, type=f"SeparableConv{rank}D", ops=depthwise.ops + pointwise.ops,
                input_shape=depthwise.input_shape, output_shape=pointwise.output_shape,
                kernel=depthwise.kernel, kernels=pointwise.kernels, parts=(depthwise, pointwise),
            )
        else:
            name = _group_name(ops)
            layer = _make_layer(name, _layer_type(ops[0], nodes[0], constants), [_with_layer(o, name) for o in ops], nodes[0], constants)
        layers.append(layer)
        member_nodes = nodes + (groups[pointwise_of[index]][0] if index in pointwise_of else [])
        for record, op in zip(member_nodes, layer.ops):
            named_ops[record.name] = op
    ordered_ops = tuple(named_ops[record.name] for record, _ in rows)
    return tuple(layers), ordered_ops
