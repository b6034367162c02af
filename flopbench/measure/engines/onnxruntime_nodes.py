"""ONNX Runtime's profile names the nodes of the graph it really runs — fused (`fused fc1/MatMulAddFusion`),
relaid out (`conv1_nchwc`, `ReorderOutput_token_7`), or `<OpType>_<index>` when the model left a
node unnamed — not the model's. This module maps each of them back to the counted ops they compute.

The key is the tensors: a tensor of the original model that survives in the optimized graph is a
boundary. An optimized node *ends* at the original tensors it writes (through the reorders that
only change its layout); it computes the original nodes found walking back from those tensors to
the nearest boundary. A node that ends nowhere is one the engine inserted (a reorder)."""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ...results.codec import encoded
from .base import NodeTime

# nodes that change only the layout of a tensor (ONNX Runtime's NCHWc transformer inserts them)
LAYOUT_OPS = {"ReorderInput", "ReorderOutput"}
NCHWC_SUFFIX = "_nchwc"
UNNAMED = re.compile(r"^(?P<type>.+)_(?P<index>\d+)$")


@encoded
@dataclass(frozen=True)
class OnnxNode:
    """A node of an ONNX graph: enough to follow its tensors."""

    name: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def graph_nodes(path) -> list[OnnxNode]:
    """The nodes of an ONNX file's main graph, in file order (ONNX Runtime's node index); weights
    are not read."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return [OnnxNode(n.name, n.op_type, tuple(n.input), tuple(n.output)) for n in model.graph.node]


def ops_by_onnx_node(ov_model, original: Sequence[OnnxNode], counted: set[str] | None = None) -> dict[int, list[str]]:
    """Which ops of OpenVINO's reading (the counter's op names; only those in `counted` when given)
    come from which ONNX node.

    OpenVINO names an op after its ONNX node, or after the node's output when the node has no name;
    the extra ops it decomposes a node into (`conv/WithoutBiases`) have neither and belong to the
    node of the op they feed."""
    by_name = {node.name: index for index, node in enumerate(original) if node.name}
    by_tensor = {tensor: index for index, node in enumerate(original) for tensor in node.outputs if tensor}
    owner: dict[str, int] = {}
    for node in reversed(list(ov_model.get_ordered_ops())):
        name = node.get_friendly_name()
        index = by_name.get(name)
        if index is None:
            tensors = [t for output in node.outputs() for t in output.get_names()] + [name]
            index = next((by_tensor[t] for t in tensors if t in by_tensor), None)
        if index is None:
            consumers = [target.get_node().get_friendly_name() for output in node.outputs() for target in output.get_target_inputs()]
            index = next((owner[c] for c in consumers if c in owner), None)
        if index is not None:
            owner[name] = index
    grouped: dict[int, list[str]] = {}
    for name, index in owner.items():
        if counted is None or name in counted:
            grouped.setdefault(index, []).append(name)
    return grouped


def _profiled_node(time: NodeTime, optimized: Sequence[OnnxNode], original: Sequence[OnnxNode]) -> OnnxNode | None:
    """The optimized graph's node a profile row names; an unnamed one is `<OpType>_<index>`, the
    index being the original node's, whose outputs the optimized node still writes."""
    for node in optimized:
        if node.name and node.name == time.name:
            return node
    match = UNNAMED.match(time.name)
    index = int(time.node_id) if time.node_id.isdigit() else (int(match["index"]) if match else -1)
    if 0 <= index < len(original):
        outputs = set(original[index].outputs)
        for node in optimized:
            if not node.name and node.op_type == time.type and outputs & set(node.outputs):
                return node
    return None


def _ends(node: OnnxNode, original_tensors: set[str], consumers: dict[str, list[OnnxNode]]) -> set[str]:
    """The original tensors a node of the optimized graph computes, following reorders that only
    change their layout."""
    if node.op_type in LAYOUT_OPS:
        return set()
    ends = {t for t in node.outputs if t in original_tensors}
    pending = [t for t in node.outputs if t not in original_tensors]
    while pending:
        tensor = pending.pop()
        for consumer in consumers.get(tensor, ()):
            if consumer.op_type in LAYOUT_OPS:
                ends.update(t for t in consumer.outputs if t in original_tensors)
                pending.extend(t for t in consumer.outputs if t not in original_tensors)
    if not ends and node.name.endswith(NCHWC_SUFFIX):
        # a relaid-out node is named after the original tensor it computes, sometimes with the
        # fusion's mark appended (`r31_bn_nchwc` computes r31): the longest name that is a tensor
        stem = node.name[: -len(NCHWC_SUFFIX)]
        while stem and stem not in original_tensors and "_" in stem:
            stem = stem.rsplit("_", 1)[0]
        if stem in original_tensors:
            ends.add(stem)
    return ends


def covered_nodes(optimized: Sequence[OnnxNode], original: Sequence[OnnxNode]) -> dict[int, set[int]]:
    """For each node of the optimized graph (by position), the original nodes (by index) it computes."""
    producer = {t: i for i, node in enumerate(original) for t in node.outputs if t}
    original_tensors = set(producer)
    consumers: dict[str, list[OnnxNode]] = {}
    for node in optimized:
        for tensor in node.inputs:
            consumers.setdefault(tensor, []).append(node)
    ends = {position: _ends(node, original_tensors, consumers) for position, node in enumerate(optimized)}
    boundary = {t for node in optimized for t in (*node.inputs, *node.outputs) if t in original_tensors}
    boundary.update(t for found in ends.values() for t in found)
    claimed: set[int] = set()
    covered: dict[int, set[int]] = {}
    for position in range(len(optimized)):
        region: set[int] = set()
        pending = [producer[t] for t in ends[position] if t in producer]
        while pending:
            index = pending.pop()
            if index in region or index in claimed:
                continue
            region.add(index)
            pending.extend(producer[t] for t in original[index].inputs if t in producer and t not in boundary)
        claimed |= region
        covered[position] = region
    return covered


def resolve(times: Iterable[NodeTime], optimized: Sequence[OnnxNode], original: Sequence[OnnxNode],
            ops_of_node: dict[int, list[str]]) -> list[NodeTime]:
    """ONNX Runtime's profile rows with `original_names` naming the counted ops each one computed.

    A compute node that ends at no original tensor (a chain of relaid-out convolutions can) hands
    its ops over from the next node downstream that does; a reorder names none."""
    covered = covered_nodes(optimized, original)
    position_of = {id(node): position for position, node in enumerate(optimized)}
    consumers: dict[str, list[int]] = {}
    for position, node in enumerate(optimized):
        for tensor in node.inputs:
            consumers.setdefault(tensor, []).append(position)

    def names_from(position: int, seen: set[int]) -> tuple[str, ...]:
        if covered.get(position):
            return tuple(op for index in sorted(covered[position]) for op in ops_of_node.get(index, ()))
        node = optimized[position]
        if node.op_type in LAYOUT_OPS or position in seen:
            return ()
        seen.add(position)
        for tensor in node.outputs:
            for nxt in consumers.get(tensor, ()):
                found = names_from(nxt, seen)
                if found:
                    return found
        return ()

    resolved = []
    for time in times:
        node = _profiled_node(time, optimized, original)
        names = names_from(position_of[id(node)], set()) if node is not None else ()
        resolved.append(replace(time, original_names=names))
    return resolved
