"""Reading an OpenVINO graph quickly: shapes as tuples, one walk for the facts counting needs.

Every call into OpenVINO's Python binding costs about a microsecond, and iterating a `Shape` costs
one per dimension and more (~20 µs for a 4-D shape): a model with thousands of ops spends most of
its count there, not in the formulas. So a shape is read once per op output, from the text
OpenVINO prints for it (`[1,96,54,54]`, one call), and each node's facts are gathered in one walk.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

Shape = tuple[int, ...]


def static_shape(partial) -> Shape | None:
    """An OpenVINO PartialShape as a tuple of ints, or None when any dimension is dynamic."""
    text = str(partial)  # "[1,96,54,54]"; "[]" for a scalar; "[?,3]", "[1..8,3]", "[...]" when dynamic
    try:
        return tuple(map(int, text[1:-1].split(","))) if len(text) > 2 else ()
    except ValueError:  # dynamic, or a format this code does not know: ask, and take the slow, sure way
        return tuple(int(d) for d in partial.to_shape()) if partial.is_static else None


class ElementFacts:
    """What counting reads of an element type, asked of OpenVINO once per type (`element_facts`)."""

    __slots__ = ("size", "real", "bitwidth", "name")

    def __init__(self, element_type):
        self.size = element_type.size
        self.real = element_type.is_real()
        self.bitwidth = element_type.bitwidth
        self.name = element_type.get_type_name()  # "f32"


_ELEMENT_FACTS: dict[Any, ElementFacts] = {}


def element_facts(element_type) -> ElementFacts:
    """`ElementFacts` of an openvino Type (Types hash and compare by value: f32 is f32)."""
    facts = _ELEMENT_FACTS.get(element_type)
    if facts is None:
        facts = _ELEMENT_FACTS[element_type] = ElementFacts(element_type)
    return facts


class Tensor:
    """One output of an op: its shape (None when dynamic), its element type, the ops that read it."""

    __slots__ = ("shape", "element_type", "element_size", "real", "type_name", "bitwidth", "readers", "to_result")

    def __init__(self, shape: Shape | None, element_type):
        facts = element_facts(element_type)
        self.shape = shape
        self.element_type = element_type  # an openvino Type
        self.element_size = facts.size
        self.real = facts.real
        self.type_name = facts.name
        self.bitwidth = facts.bitwidth
        self.readers: list[GraphNode] = []  # ops (not Results, not constants) reading it, once per input
        self.to_result = False  # a model output

    def stored_bytes(self) -> int:
        """Bytes at its own element type (i4: half a byte per element); 0 when dynamic."""
        if self.shape is None:
            return 0
        return math.ceil(math.prod(self.shape) * self.bitwidth / 8)


class GraphNode:
    """What counting, layer grouping and activation memory read about one op that is not a
    constant (Parameters and Results included), read once."""

    __slots__ = ("node", "name", "friendly", "type", "sources", "inputs", "outputs", "consumers")

    def __init__(self, node, name: str, kind: str, sources: list[tuple[str, int]]):
        self.node = node  # the openvino Node
        self.name = name  # OpenVINO's unique name
        self.friendly = ""  # the name the model gives it (read for ops that are not constants)
        self.type = kind
        self.sources = sources  # (producer name, output index) of each input
        self.inputs: list[Tensor] = []
        self.outputs: list[Tensor] = []
        self.consumers: list[GraphNode] = []  # ops (not Results, not constants) reading output 0, once per input


class ConstantNode:
    """A node whose outputs are known before inference, as far as counting walks back through them
    (to the weights behind an input): its type and where its inputs come from."""

    __slots__ = ("node", "type", "sources")

    def __init__(self, node, kind: str, sources: list[tuple[str, int]]):
        self.node = node  # the openvino Node
        self.type = kind
        self.sources = sources  # (producer name, output index) of each input; () for Constants and ShapeOfs


class Graph:
    """The ops of a model in topological order (`nodes`), the names of those known before
    inference (`constants`: not in `nodes`, described by `constant(name)`; `stored` are those that
    hold values, Constants and the Parameters standing in for weights), the model's inputs, and the
    tensors between them.

    Read in one walk over OpenVINO's nodes, with as few calls into its binding as the facts need:
    a node's producers are recognised by the Python object the binding hands back for them (the
    same object for the same node while the walk holds it), not by asking each for its name."""

    def __init__(self, model, weight_inputs: frozenset[str] | set[str]):
        self.nodes: list[GraphNode] = []  # every op that is not a constant, Parameters and Results too
        self.by_name: dict[str, GraphNode] = {}
        self.constants: set[str] = set()
        self.stored: set[str] = set()
        self._constant_nodes: dict[str, ConstantNode] = {}  # Constants' are made when first asked for
        self._constant_objects: dict[str, Any] = {}  # Constant name -> openvino Node (half the nodes of many models)
        self._tensors: dict[tuple[str, int], Tensor] = {}
        constants, stored, constant_nodes, constant_objects = self.constants, self.stored, self._constant_nodes, self._constant_objects
        name_of: dict[Any, str] = {}  # openvino Node -> its name
        several_outputs: set[str] = set()  # nodes whose inputs' output index must be asked for
        ops = model.get_ordered_ops()  # held until the walk ends: keeps the binding's objects alive
        # Known before inference: weights, their decompression (Convert, Multiply by a scale ...)
        # and shape arithmetic. OpenVINO folds them at compile time: they cost nothing per
        # inference, and only their names are kept.
        for node in ops:
            kind = node.get_type_name()
            name = node.get_name()
            name_of[node] = name
            if kind == "Constant":  # half the nodes of many models
                constants.add(name)
                stored.add(name)
                constant_objects[name] = node
                continue
            if kind == "Parameter":
                if node.get_output_tensor(0).get_names() & weight_inputs or node.get_friendly_name() in weight_inputs:
                    constants.add(name)
                    stored.add(name)
                    constant_nodes[name] = ConstantNode(node, kind, [])
                else:
                    self._add(node, name, kind, [], [])
                continue
            if kind == "ShapeOf" and node.get_input_partial_shape(0).is_static:
                constants.add(name)
                constant_nodes[name] = ConstantNode(node, kind, [])  # reads no values: nothing to walk back to
                continue
            sources_out = node.input_values()
            sources = []
            for out in sources_out:
                producer = out.get_node()
                producer_name = name_of.get(producer)
                if producer_name is None:  # not the object seen in the walk: ask
                    producer_name = producer.get_name()
                sources.append((producer_name, out.get_index() if producer_name in several_outputs else 0))
            if kind != "Result" and sources and all(source[0] in constants for source in sources):
                constants.add(name)
                constant_nodes[name] = ConstantNode(node, kind, sources)
                if node.get_output_size() > 1:
                    several_outputs.add(name)
                continue
            if self._add(node, name, kind, sources_out, sources) > 1:
                several_outputs.add(name)
        by_name = self.by_name
        # the model's inputs in the model's order, not the weights' stand-ins
        self.inputs: list[GraphNode] = [by_name[name] for name in (name_of.get(p) or p.get_name() for p in model.get_parameters())
                                        if name in by_name]

    def _add(self, node, name: str, kind: str, sources_out: list, sources: list[tuple[str, int]]) -> int:
        """Add an op that is not a constant; returns its number of outputs."""
        record = GraphNode(node, name, kind, sources)
        self.nodes.append(record)
        self.by_name[name] = record
        tensors = self._tensors
        if kind == "Result":
            for key, out in zip(sources, sources_out):
                self._tensor(key, out).to_result = True
            return 1
        record.friendly = node.get_friendly_name()
        by_name = self.by_name
        inputs = record.inputs
        for key, out in zip(sources, sources_out):
            tensor = tensors.get(key)
            if tensor is None:  # a constant's output, read the first time an op uses it
                tensor = self._tensor(key, out)
            inputs.append(tensor)
            producer = by_name.get(key[0])
            if producer is not None:
                tensor.readers.append(record)
                if key[1] == 0:
                    producer.consumers.append(record)
        count = node.get_output_size()
        for index in range(count):
            tensor = Tensor(static_shape(node.get_output_partial_shape(index)), node.get_output_element_type(index))
            tensors[(name, index)] = tensor
            record.outputs.append(tensor)
        return count

    def _tensor(self, key: tuple[str, int], out) -> Tensor:
        tensor = self._tensors.get(key)
        if tensor is None:
            tensor = self._tensors[key] = Tensor(static_shape(out.get_partial_shape()), out.get_element_type())
        return tensor

    def constant(self, name: str) -> ConstantNode:
        """The node `name` of `constants`: its type, its openvino Node and its sources."""
        record = self._constant_nodes.get(name)
        if record is None:
            record = self._constant_nodes[name] = ConstantNode(self._constant_objects[name], "Constant", [])
        return record

    def constant_output(self, name: str) -> Tensor:
        """Output 0 of the constant node `name` (a stored tensor behind an op's input), read once."""
        key = (name, 0)
        tensor = self._tensors.get(key)
        if tensor is None:
            node = self.constant(name).node
            tensor = self._tensors[key] = Tensor(static_shape(node.get_output_partial_shape(0)), node.get_output_element_type(0))
        return tensor

    def node_type(self, name: str) -> str:
        """The type of any node the walk saw, constant or not."""
        record = self.by_name.get(name)
        if record is not None:
            return record.type
        return "Constant" if name in self._constant_objects else self._constant_nodes[name].type


class NodeAttributes(Mapping):
    """An op's attributes, read from OpenVINO the first time a formula looks at one: most
    formulas (elementwise, data movement) never do, and reading them costs more than the rest
    of the op's row."""

    __slots__ = ("_node", "_values")

    def __init__(self, node):
        self._node = node
        self._values: dict[str, Any] | None = None

    def _read(self) -> dict[str, Any]:
        if self._values is None:
            try:
                self._values = dict(self._node.get_attributes())
            except Exception:  # some ops' attribute visitors are not exposed to Python
                self._values = {}
        return self._values

    def __getitem__(self, key: str) -> Any:
        return self._read()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())

    def __repr__(self) -> str:
        return repr(self._read())
