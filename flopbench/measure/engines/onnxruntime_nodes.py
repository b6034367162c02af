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
NCHWC_DOMAIN = "com.microsoft.nchwc"
UNNAMED = re.compile(r"^(?P<type>.+)_(?P<index>\d+)$")


@encoded
@dataclass(frozen=True)
class OnnxNode:
    """A node of an ONNX graph: enough to follow its tensors."""

    name: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    domain: str = ""  # "com.microsoft.nchwc" for a node that works in ONNX Runtime's blocked layout


def graph_nodes(path) -> list[OnnxNode]:
    """The nodes of an ONNX file's main graph, in file order (ONNX Runtime's node index); weights
    are not read."""
    return compiled_graph(path)[0]


def compiled_graph(path) -> tuple[list[OnnxNode], dict[str, int]]:
    """(the nodes of an ONNX file's main graph in file order, the bytes of each of its stored
    tensors — for the graph ONNX Runtime saved, its weights as its kernels read them)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    nodes = [OnnxNode(n.name, n.op_type, tuple(n.input), tuple(n.output), n.domain) for n in model.graph.node]
    stored = {tensor.name: _elements(tensor.dims) * _item_size(tensor.data_type) for tensor in model.graph.initializer}
    return nodes, stored


def _elements(dims) -> int:
    count = 1
    for dim in dims:
        count *= max(int(dim), 0)
    return count


def _item_size(data_type: int) -> int:
    from onnx.helper import tensor_dtype_to_np_dtype

    try:
        return tensor_dtype_to_np_dtype(data_type).itemsize
    except (KeyError, TypeError, ValueError):
        return 4


def model_tensor_sizes(ov_model) -> dict[str, tuple[tuple[int, ...], int]]:
    """(shape, bytes per element) of every tensor of the model as flopbench read it (static
    shapes), by the ONNX names its ops' outputs keep."""
    sizes = {}
    for op in ov_model.get_ordered_ops():
        for output in op.outputs():
            shape = output.get_partial_shape()
            if not shape.is_static:
                continue
            dims = tuple(int(d) for d in shape.to_shape())
            for name in output.get_names():
                sizes[name] = (dims, output.get_element_type().size)
    return sizes


def inferred_tensor_sizes(path, input_shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[tuple[int, ...], int]]:
    """The same from ONNX's shape inference on the file, its inputs set to `input_shapes` (when
    flopbench's reading of the model is not at hand)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for value in model.graph.input:
        if value.name in input_shapes and value.type.HasField("tensor_type"):
            dims = value.type.tensor_type.shape.dim
            del dims[:]
            for size in input_shapes[value.name]:
                dims.add().dim_value = int(size)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True).graph
    sizes = {}
    for value in (*inferred.input, *inferred.value_info, *inferred.output):
        tensor = value.type.tensor_type
        if value.type.HasField("tensor_type") and tensor.HasField("shape") and all(d.HasField("dim_value") for d in tensor.shape.dim):
            sizes[value.name] = (tuple(d.dim_value for d in tensor.shape.dim), _item_size(tensor.elem_type))
    return sizes


def executed_bytes(optimized: Sequence[OnnxNode], stored: dict[str, int], original: Sequence[OnnxNode],
                   sizes: dict[str, tuple[tuple[int, ...], int]], block: int) -> list[tuple[int, int]]:
    """(read, written) bytes of each node of the optimized graph, per inference: every input as
    often as it is read (a fused residual sum reads its tensor again), weights as the compiled graph
    stores them, every output.

    A tensor of the original model has its shape from `sizes`. A tensor ONNX Runtime made up (a
    reordered copy, a fused node's output in the blocked NCHWc layout) has the shape of the
    original tensor it stands for, found through the reorders around it, with its channels padded
    to the kernels' `block` when it is in the blocked layout."""
    original_tensors = {t for node in original for t in (*node.inputs, *node.outputs) if t}
    producer = {t: node for node in optimized for t in node.outputs if t}
    consumers: dict[str, list[OnnxNode]] = {}
    for node in optimized:
        for tensor in node.inputs:
            consumers.setdefault(tensor, []).append(node)

    def stands_for(tensor: str, seen: frozenset = frozenset()) -> str | None:
        """The original tensor a made-up one holds (in another layout)."""
        if tensor in sizes:
            return tensor
        if tensor in seen:
            return None
        seen = seen | {tensor}
        made_by = producer.get(tensor)
        if made_by is not None and made_by.op_type in LAYOUT_OPS and made_by.inputs:  # a reordered copy of its input
            found = stands_for(made_by.inputs[0], seen)
            if found:
                return found
        for reader in consumers.get(tensor, ()):  # reordered back into an original tensor
            if reader.op_type in LAYOUT_OPS and reader.outputs:
                found = stands_for(reader.outputs[0], seen)
                if found:
                    return found
        if made_by is not None:  # a relaid-out node computes the original tensor it is named after
            ends = _ends(made_by, original_tensors, consumers)
            if made_by.op_type not in LAYOUT_OPS:
                found = next((t for t in sorted(ends) if t in sizes), None)
                if found:
                    return found
        return None

    def blocked(tensor: str) -> bool:
        made_by = producer.get(tensor)
        return made_by is not None and made_by.domain == NCHWC_DOMAIN and made_by.op_type != "ReorderOutput"

    def size(tensor: str) -> int:
        if not tensor:
            return 0
        if tensor in stored:
            return stored[tensor]
        found = stands_for(tensor)
        if found is None:
            return 0
        dims, item = sizes[found]
        if tensor not in sizes and blocked(tensor) and len(dims) >= 3:
            dims = (dims[0], -(-dims[1] // block) * block, *dims[2:])
        return _elements(dims) * item

    return [(sum(size(t) for t in node.inputs), sum(size(t) for t in node.outputs)) for node in optimized]


def equivalent_nodes(path) -> list[list[int]]:
    """Groups of the file's nodes (by index) that compute the same values: the same op, attributes
    and inputs, an input being the same when it is one tensor, equal constant weights (initializers
    a caller cannot override) or the output of a node of the same
    group. ONNX Runtime's common-subexpression elimination runs one node of such a group; which one it
    keeps, the optimized graph tells."""
    import hashlib

    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path), load_external_data=False)
    graph = model.graph
    # before IR version 4 every initializer had to be listed as an input too, and ONNX Runtime holds
    # them constant; from 4 on, one listed as an input is a default the caller may override
    overridable = {tensor.name for tensor in graph.input} if model.ir_version >= 4 else set()
    same: dict[str, str] = {}  # a tensor → the first tensor of equal value
    by_value: dict[tuple, str] = {}
    for initializer in graph.initializer:
        if initializer.name in overridable or initializer.data_location == onnx.TensorProto.EXTERNAL:
            continue
        array = numpy_helper.to_array(initializer)
        key = (initializer.data_type, tuple(initializer.dims), hashlib.sha256(array.tobytes()).hexdigest())
        same[initializer.name] = by_value.setdefault(key, initializer.name)
    first: dict[tuple, int] = {}
    groups: dict[int, list[int]] = {}
    for index, node in enumerate(graph.node):
        if any(attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for attribute in node.attribute):
            continue  # a subgraph may read outer tensors the key does not see
        key = (node.op_type, node.domain, tuple(same.get(t, t) for t in node.input),
               tuple(sorted(attribute.SerializeToString() for attribute in node.attribute)), len(node.output))
        if key not in first:
            first[key] = index
            continue
        kept = first[key]
        groups.setdefault(kept, [kept]).append(index)
        for mine, theirs in zip(node.output, graph.node[kept].output):
            if mine and theirs:
                same[mine] = same.get(theirs, theirs)
    return list(groups.values())


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


def _ends(node: OnnxNode, original_tensors: set[str], consumers: dict[str, list[OnnxNode]],
          named: dict[str, OnnxNode] | None = None) -> set[str]:
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
    same = (named or {}).get(node.name)
    if not ends and same is not None and same.op_type == node.op_type:
        # a node kept whole but relaid out between reorders (a Concat of NCHWc tensors) keeps its
        # original name and type: it computes that node's outputs
        ends.update(t for t in same.outputs if t in original_tensors)
    return ends


def covered_nodes(optimized: Sequence[OnnxNode], original: Sequence[OnnxNode],
                  equivalent: Sequence[Sequence[int]] = ()) -> dict[int, set[int]]:
    """For each node of the optimized graph (by position), the original nodes (by index) it computes.

    Of a group of `equivalent` original nodes, those whose tensors left the graph while another's
    stayed were merged into it: their tensors are read as the kept one's, and no node computes them."""
    covered, _ = _cover(optimized, original, equivalent)
    return covered


def _cover(optimized: Sequence[OnnxNode], original: Sequence[OnnxNode],
           equivalent: Sequence[Sequence[int]]) -> tuple[dict[int, set[int]], dict[int, int]]:
    """`covered_nodes`, and the original nodes merged into another (index → the kept one's)."""
    producer = {t: i for i, node in enumerate(original) for t in node.outputs if t}
    original_tensors = set(producer)
    consumers: dict[str, list[OnnxNode]] = {}
    for node in optimized:
        for tensor in node.inputs:
            consumers.setdefault(tensor, []).append(node)
    named = {node.name: node for node in original if node.name}
    ends = {position: _ends(node, original_tensors, consumers, named) for position, node in enumerate(optimized)}
    present = {t for node in optimized for t in (*node.inputs, *node.outputs) if t in original_tensors}
    present.update(t for found in ends.values() for t in found)
    alias: dict[str, str] = {}  # a merged node's tensor → the kept node's
    for group in equivalent:
        kept = [i for i in group if any(t in present for t in original[i].outputs)]
        if not kept:
            continue
        for index in group:
            if index not in kept and not any(t in present for t in original[index].outputs):
                alias.update(zip(original[index].outputs, original[kept[0]].outputs))
    boundary = set(present)
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
            for tensor in original[index].inputs:
                tensor = alias.get(tensor, tensor)
                if tensor in producer and tensor not in boundary:
                    pending.append(producer[tensor])
        claimed |= region
        covered[position] = region
    # a group's node that no optimized node computes, while another of its group is computed: merged
    merged: dict[int, int] = {}
    for group in equivalent:
        computed = [i for i in group if i in claimed]
        if computed:
            merged.update((i, computed[0]) for i in group if i not in claimed)
    return covered, merged


def merged_ops(optimized: Sequence[OnnxNode], original: Sequence[OnnxNode], ops_of_node: dict[int, list[str]],
               equivalent: Sequence[Sequence[int]]) -> tuple[tuple[str, str], ...]:
    """(counted op, the counted op ONNX Runtime ran in its place) for each op of a node it merged
    into an equivalent one: equal nodes are read into the same ops, paired in order."""
    _, merged = _cover(optimized, original, equivalent)
    pairs = []
    for index, kept in sorted(merged.items()):
        mine, theirs = ops_of_node.get(index, []), ops_of_node.get(kept, [])
        if theirs:
            pairs += zip(mine, theirs) if len(mine) == len(theirs) else ((op, theirs[0]) for op in mine)
    return tuple(pairs)


def resolve(times: Iterable[NodeTime], optimized: Sequence[OnnxNode], original: Sequence[OnnxNode],
            ops_of_node: dict[int, list[str]], equivalent: Sequence[Sequence[int]] = ()) -> list[NodeTime]:
    """ONNX Runtime's profile rows with `original_names` naming the counted ops each one computed.

    A compute node that ends at no original tensor (a chain of relaid-out convolutions can) hands
    its ops over from the next node downstream that does; a reorder names none. The nodes it merged
    into an `equivalent` one are computed by none (`merged_ops` names them)."""
    covered = covered_nodes(optimized, original, equivalent)
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
