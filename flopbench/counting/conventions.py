"""One network, one count, however it was read.

OpenVINO reads an ONNX file op for op, while `openvino.convert_model` (the IR route) first simplifies
the graph; OpenVINO's compiler makes the same simplifications on either route before anything runs.
Where such a simplification removes or merges ops, the count follows what runs, so that a model and
its converted IR give the same FLOPs and bytes:

* an Add or Subtract of a constant that is all zeros, a Multiply or Divide by all ones (a zero bias
  an exporter wrote, and convert_model drops) does no work: 0 FLOPs, 0 bytes;
* Clip read as Maximum then Minimum with constant bounds (how OpenVINO's ONNX frontend reads it) is
  the one Clamp convert_model makes of it: 2 other FLOPs per element as before, its input read once
  and its output written once.

What stays different, and why (the README says so too): parameters count what each file holds, so a
zero bias that one file holds and the other does not is counted in one only, and a BatchNorm that a
converter folded into the convolution before it is counted on the route that still has it.
"""
from __future__ import annotations

import math
from dataclasses import replace

from .cost import OpCost
from .graph import Graph, GraphNode
from .optypes import op_facts

# the constant that leaves an op's other input as it is, and which inputs may hold it
IDENTITIES = {"Add": (0.0, (0, 1)), "Subtract": (0.0, (1,)), "Multiply": (1.0, (0, 1)), "Divide": (1.0, (1,))}
MAX_CHECKED_ELEMENTS = 1 << 16  # biases and scales; a larger constant is not read to look for an identity
CLIP_PAIRS = {"Maximum": "Minimum", "Minimum": "Maximum"}

NOTE_IDENTITY = "{verb}: no work (OpenVINO removes it; convert_model drops it from the IR)"
VERBS = {"Add": "adds zero", "Subtract": "subtracts zero", "Multiply": "multiplies by one", "Divide": "divides by one"}
NOTE_CLIP = "with the {other} {where} it, a Clip (convert_model's Clamp): counted as one op reading its input once"


def constant_source(graph: Graph, source: tuple[str, int]) -> tuple[str, int]:
    """The constant an op's input coming from `source` (producer name, output index) comes from,
    through the reshapes and converts in between, so a constant two ops share (ONNX's Conv bias
    becomes a Reshape per use) is counted once. Walked over what `graph` read."""
    constants = graph.constants
    name, index = source
    while name in constants:
        record = graph.constant(name)
        if not op_facts(record.type).relabels or not record.sources:
            break
        name, index = record.sources[0]
    return name, index


def _constant_values(graph: Graph, name: str):
    """The values of the Constant behind the constant node `name` (through reshapes and converts),
    or None."""
    record = graph.constant(name)
    while op_facts(record.type).relabels and record.sources:
        record = graph.constant(record.sources[0][0])
    node = record.node
    if record.type != "Constant" or math.prod(node.get_output_shape(0)) > MAX_CHECKED_ELEMENTS:
        return None
    try:
        return node.get_data()
    except Exception:  # an element type numpy cannot hold (i4, f8 ...)
        return None


def _is_identity(graph: Graph, record: GraphNode) -> bool:
    value, positions = IDENTITIES[record.type]
    known = graph.constants
    if len(record.inputs) != 2 or not record.outputs or record.outputs[0].shape is None:
        return False
    for position in positions:
        data = 1 - position
        if record.sources[position][0] in known and record.sources[data][0] not in known \
                and record.inputs[data].shape == record.outputs[0].shape:  # no broadcast that grows the data
            values = _constant_values(graph, record.sources[position][0])
            if values is not None and values.size and bool((values == value).all()):
                return True
    return False


def _scalar_bound(record: GraphNode, known: set[str]) -> int | None:
    """The data input of a Maximum / Minimum whose other input is one constant number, else None."""
    if len(record.inputs) != 2:
        return None
    for data, bound in ((0, 1), (1, 0)):
        shape = record.inputs[bound].shape
        if record.sources[bound][0] in known and shape is not None and math.prod(shape) == 1 and record.sources[data][0] not in known:
            return data
    return None


def same_on_every_route(graph: Graph, rows: list[tuple[GraphNode, OpCost]]) -> list[tuple[GraphNode, OpCost]]:
    """`rows` with the simplifications above applied (see the module's docstring)."""
    known = graph.constants
    position = {record.name: index for index, (record, _) in enumerate(rows)}
    rows = list(rows)
    for index, (record, op) in enumerate(rows):
        if record.type in IDENTITIES and _is_identity(graph, record):
            rows[index] = (record, replace(op, macs=0, other_flops=0, bytes_read=0, bytes_written=0,
                                           note=NOTE_IDENTITY.format(verb=VERBS[record.type])))
        elif record.type in CLIP_PAIRS and op.counted:
            data = _scalar_bound(record, known)
            consumers = record.consumers
            output = record.outputs[0] if record.outputs else None
            if data is None or len(consumers) != 1 or output is None or output.to_result or len(output.readers) != 1:
                continue
            second = consumers[0]
            if second.type != CLIP_PAIRS[record.type] or second.name not in position or _scalar_bound(second, known) is None:
                continue
            other_index = position[second.name]
            other = rows[other_index][1]
            if not other.counted:
                continue
            data_bytes = op.bytes_read if record.inputs[data].shape is None else \
                math.prod(record.inputs[data].shape) * record.inputs[data].element_size
            rows[index] = (record, replace(op, bytes_read=data_bytes, bytes_written=0,
                                           note=NOTE_CLIP.format(other=second.type, where="after")))
            rows[other_index] = (second, replace(other, bytes_read=0, note=NOTE_CLIP.format(other=record.type, where="before")))
    return rows
