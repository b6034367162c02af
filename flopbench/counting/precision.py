"""The precision an op's multiply-accumulates run at, and the bytes its weights are stored in.

A quantized model keeps float ops in its graph and says where integers flow:
- OpenVINO IR from NNCF: activations go through `FakeQuantize` (levels ≤ 256), weights are stored as
  `i8 Constant → Convert → Multiply (scale)`;
- ONNX QDQ (`onnxruntime.quantization`, QDQ format): OpenVINO reads `QuantizeLinear` as
  `FakeQuantize → Convert (u8/i8)` and `DequantizeLinear` as `Convert → Subtract (zero point) →
  Multiply (scale)`; `ConvInteger` / `MatMulInteger` / `QLinearConv` read back as the same
  dequantization chain in front of a float Convolution or MatMul.
So a convolution or matmul is an integer op when each of its data and weight inputs, walked back
through that chain, starts at an integer tensor of ≤ 8 bits or at a FakeQuantize of ≤ 256 levels.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .graph import static_shape

from .optypes import op_facts

if TYPE_CHECKING:
    from .graph import Graph

# which ops a walk back passes (`keeps_values`), which inputs are values, which inputs of a
# multiply-accumulate op carry its data and weights: the op facts of the registry (`optypes`)
MAX_WALK = 12  # a dequantization chain is a handful of ops; stop early on anything longer


def integer_bits(levels: int) -> int:
    """Bits a FakeQuantize with `levels` levels needs: 256 → 8, 255 → 8, 16 → 4."""
    return max(1, math.ceil(math.log2(max(levels, 2))))


def _integer_width(element) -> int | None:
    """The width of an integer element type of at most 8 bits (i8, u8, i4, u4 ...), else None."""
    if element.is_integral_number() and not element.is_real() and element.bitwidth <= 8 and element.get_type_name() != "boolean":
        return element.bitwidth
    return None


def _levels(node) -> int:
    try:
        return int(node.get_attributes().get("levels", 0))
    except Exception:
        return 0


def _main_input(node, constants: set[str]):
    """The input a dequantization step transforms: the non-constant one on the data path, the
    largest one inside a weight's constant subgraph (the weights, not their scale)."""
    count = node.get_input_size()
    if op_facts(node.get_type_name()).value_inputs == (0,) or count == 1:
        return node.input_value(0)
    values = [node.input_value(i) for i in range(count)]
    moving = [v for v in values if v.get_node().get_name() not in constants]
    # ConvInteger's zero point is computed at run time (DynamicQuantizeLinear): the larger input is the data
    candidates = moving or values
    sizes = [math.prod(shape) if (shape := static_shape(v.get_partial_shape())) is not None else 0 for v in candidates]
    return candidates[sizes.index(max(sizes))]


def input_bits(value, constants: set[str]) -> int | None:
    """The integer width a tensor was quantized to, walking back through dequantization; None if float."""
    for _ in range(MAX_WALK):
        node = value.get_node()
        width = _integer_width(value.get_element_type())
        if width is not None:
            return width
        kind = node.get_type_name()
        if kind == "FakeQuantize":
            levels = _levels(node)
            return integer_bits(levels) if 0 < levels <= 256 else None
        if not op_facts(kind).keeps_values:
            return None
        following = _main_input(node, constants)
        if following is None:
            return None
        value = following
    return None


def op_precision(node, constants: set[str]) -> str:
    """"int8" (or "int4" ...) when every data and weight input of a convolution or matmul is
    quantized; otherwise the element type the op computes in ("f32", "f16", "bf16")."""
    kind = node.get_type_name()
    floating = node.get_output_element_type(0).get_type_name() if node.get_output_size() else ""
    if not op_facts(kind).multiplies:
        return floating
    indices = mac_input_indices(kind, node.get_input_size())
    widths = [input_bits(node.input_value(i), constants) for i in indices]
    if widths and all(w is not None for w in widths):
        return f"int{8 if max(widths) > 4 else 4}"  # type: ignore[type-var]
    return floating


def is_integer_precision(precision: str) -> bool:
    return precision.startswith("int")


def value_inputs(node) -> range | tuple[int, ...]:
    """Indices of the inputs that carry values (not shapes, axes or indices)."""
    return value_input_indices(node.get_type_name(), node.get_input_size())


def value_input_indices(kind: str, input_count: int) -> range | tuple[int, ...]:
    """`value_inputs` of an op of type `kind` with `input_count` inputs."""
    declared = op_facts(kind).value_inputs
    return range(input_count) if declared is None else declared


def mac_input_indices(kind: str, input_count: int) -> tuple[int, ...]:
    """The inputs of a multiply-accumulate op that carry its data and weights, of those it has."""
    return tuple(i for i in op_facts(kind).mac_inputs if i < input_count)


def stored_sources(graph: "Graph", name: str) -> list[tuple[str, bool]]:
    """The stored tensors (Constants, or the Parameters an ONNX twin puts in place of large
    initializers) the output of the constant node `name` is computed from, each with whether a
    Convert turned it into floats on the way (an integer tensor behind a Convert is a quantized
    weight, zero point or bias; one without is a shape or an index), as (name, converted). Walked
    over what `graph` read, not through OpenVINO's binding."""
    constants = graph.constants
    found: list[tuple[str, bool]] = []
    seen: set[str] = set()
    stack = [(name, False)]
    while stack:
        name, converted = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name not in constants:
            continue
        record = graph.constant(name)
        kind = record.type
        if kind in ("Constant", "Parameter"):
            found.append((name, converted))
            continue
        node = record.node
        through_convert = converted or (kind == "Convert" and (node.get_output_element_type(0).is_real()
                                                               or _integer_width(node.get_input_element_type(0)) is not None))
        for i in value_input_indices(kind, len(record.sources)):
            stack.append((record.sources[i][0], through_convert))
    return found


def may_be_quantized(tensor, producer_type: str) -> bool:
    """False when `input_bits` of this input is None at its first step: a tensor that is not a
    small integer, made by an op that neither quantizes nor dequantizes (the float model's case)."""
    return producer_type == "FakeQuantize" or op_facts(producer_type).keeps_values or (
        not tensor.real and tensor.bitwidth <= 8 and tensor.type_name != "boolean")
