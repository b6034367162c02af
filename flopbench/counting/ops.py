"""Turn an OpenVINO graph into `OpCost` rows, then into layers: `count()`."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..results.metadata import result_metadata
from .cost import NOTE_DYNAMIC, NOTE_NO_FORMULA, ModelCost, OpCost
from .formulas import FORMULAS, Formula, OpView, Work
from .formulas import numel as _numel
from .conventions import constant_source, same_on_every_route
from .graph import Graph, GraphNode, NodeAttributes
from .layers import group_layers
from .memory import activation_memory
from .optypes import op_facts
from .precision import input_bits, mac_input_indices, may_be_quantized, op_precision, stored_sources, value_input_indices
from ..results.documents import collector_paused
from ..errors import FormulaError, one_line
from ..model.reading import LoadedModel, load


def constant_nodes(model, weight_inputs: frozenset[str]) -> set[str]:
    """Names of nodes whose outputs are known before inference (see `Graph`): not listed as ops."""
    return Graph(model, weight_inputs).constants


def _kernel_and_count(kind: str, inputs: tuple, outputs: tuple, attrs: Mapping[str, Any]) -> tuple[tuple[int, ...] | None, int | None]:
    facts = op_facts(kind)
    if facts.kind == "conv":
        weights = inputs[facts.weight_input]
        out = outputs[0]
        if not weights or not out or len(out) < 2:
            return None, None
        spatial = len(out) - 2
        return tuple(weights[-spatial:]) if spatial else (), out[1]
    if facts.kind == "pool":
        return tuple(int(k) for k in attrs.get("kernel", ())) or None, None
    if facts.kind == "matmul" and outputs[0]:
        return None, outputs[0][-1]
    return None, None


def computed_in_graph(graph: Graph, weights, sources: list[tuple[str, bool]]) -> bool:
    """Whether the graph makes a weight input from fewer values than it holds (ConstantOfShape,
    Expand, Mul of a broadcast constant ...): its bytes once computed are then its own, not its
    stored sources'. Dequantized weights (a Convert on the way) stay as stored: engines keep them
    compressed."""
    if weights.shape is None or not weights.real or any(converted for _, converted in sources):
        return False
    stored_values = 0
    for name, _ in sources:
        stored = graph.constant_output(name)
        if stored.real and stored.shape is not None:
            stored_values += _numel(stored.shape)
    return _numel(weights.shape) > stored_values


def _precision(graph: Graph, record: GraphNode) -> str:
    """`op_precision` of a MAC op, without walking back through OpenVINO's binding when an input
    cannot be quantized (a float tensor from an op that neither quantizes nor dequantizes)."""
    indices = mac_input_indices(record.type, len(record.inputs))
    if indices and all(may_be_quantized(record.inputs[i], graph.node_type(record.sources[i][0])) for i in indices):
        return op_precision(record.node, graph.constants)
    return record.outputs[0].type_name if record.outputs else ""


def op_rows(graph: Graph, formulas: Mapping[str, Formula] = FORMULAS) -> list[tuple[GraphNode, OpCost]]:
    """Every operation that is not a constant (see `Graph`) with its cost, in topological order,
    paired with its graph node; `formulas` maps op types to their formulas."""
    known = graph.constants
    stored_nodes = graph.stored
    counted_params: set[tuple[str, int]] = set()
    stored_seen: set[str] = set()
    computed_seen: set[tuple[str, int]] = set()
    rows = []
    for record in graph.nodes:
        kind = record.type
        facts = op_facts(kind)
        if facts.kind == "plumbing":
            continue
        node = record.node
        inputs = record.inputs
        in_shapes = tuple([t.shape for t in inputs])
        out_shapes = tuple([t.shape for t in record.outputs])
        attrs = NodeAttributes(node)
        params = 0
        materialized = 0
        bytes_read = 0
        stored: dict[str, int] = {}
        values = None
        settings = facts.setting_inputs
        ranges = facts.range_inputs
        for i, (tensor, source) in enumerate(zip(inputs, record.sources)):
            shape = tensor.shape
            size = None if shape is None else _numel(shape)
            if size is not None:
                bytes_read += size * tensor.element_size
            if source[0] not in known or i in settings:
                continue
            values = value_input_indices(kind, len(inputs)) if values is None else values
            if i in values and source[0] in stored_nodes:  # the weights themselves, the usual case
                if tensor.real and source[0] not in stored_seen:
                    stored_seen.add(source[0])
                    stored[tensor.type_name] = stored.get(tensor.type_name, 0) + tensor.stored_bytes()
                    materialized += tensor.stored_bytes()
            elif i in values:
                # weights are kept at the precision they are stored in (i8 behind a Convert, f16 ...)
                sources = stored_sources(graph, source[0])
                computed = computed_in_graph(graph, tensor, sources)
                for stored_name, converted in sources:
                    if stored_name in stored_seen:
                        continue
                    weights = graph.constant_output(stored_name)
                    if weights.real or converted:  # a float tensor, or integers dequantized on the way
                        stored_seen.add(stored_name)
                        stored[weights.type_name] = stored.get(weights.type_name, 0) + weights.stored_bytes()
                        materialized += 0 if computed else weights.stored_bytes()
                if computed:  # the tensor the graph makes, once however many ops read it
                    origin = constant_source(graph, source)
                    if origin not in computed_seen:
                        computed_seen.add(origin)
                        materialized += tensor.stored_bytes()
            # a weight: a constant floating-point input, counted once however many ops share it;
            # a single number (clip bound, epsilon, scale) is a hyper-parameter, not a weight
            if size is not None and size > 1 and i not in ranges \
                    and (tensor.real or (facts.multiplies and input_bits(node.input_value(i), known) is not None)):
                origin = constant_source(graph, source)
                if origin not in counted_params:
                    counted_params.add(origin)
                    params += size
        bytes_written = sum(_numel(t.shape) * t.element_size for t in record.outputs if t.shape is not None)
        formula = formulas.get(kind)
        dynamic = None in in_shapes or None in out_shapes
        note = ""
        macs = other = 0
        counted = formula is not None and not dynamic
        name = record.friendly
        if formula is None:
            note = NOTE_NO_FORMULA
        elif dynamic:
            note = NOTE_DYNAMIC
        else:
            given = kind in getattr(formulas, "given", ())
            try:
                work = formula(OpView(type=kind, input_shapes=in_shapes, output_shapes=out_shapes, attrs=attrs, name=name))
            except Exception as exc:
                if given:  # what a message shows is capped: a formula's error may print a whole array
                    raise _given_formula_failed(formula, kind, name, f"raised {type(exc).__name__}: {one_line(exc, 160)}") from None
                if not isinstance(exc, (ValueError, IndexError, KeyError, TypeError)):
                    raise
                work = exc
            if isinstance(work, Exception):
                counted, note = False, f"formula failed: {work}"
            elif given and not (isinstance(work, Work) and all(type(v) is int and v >= 0 for v in (work.macs, work.other_flops))):
                raise _given_formula_failed(formula, kind, name, f"returned {one_line(repr(work), 80)}, not a Work of whole numbers")
            elif not isinstance(work, Work):
                counted, note = False, f"formula failed: it returned {type(work).__name__}, not a Work"
            else:
                macs, other = work.macs, work.other_flops
        kernel, kernels = _kernel_and_count(kind, in_shapes, out_shapes, attrs) if not dynamic else (None, None)
        rows.append((record, OpCost(
            name=name, type=kind, layer="",
            input_shapes=tuple([s or () for s in in_shapes]) if dynamic else in_shapes,
            output_shapes=tuple([s or () for s in out_shapes]) if dynamic else out_shapes,
            kernel=kernel, kernels=kernels, macs=macs, other_flops=other, params=params,
            bytes_read=bytes_read, bytes_written=bytes_written, counted=counted, note=note,
            precision=_precision(graph, record) if facts.multiplies else (record.outputs[0].type_name if record.outputs else ""),
            stored_weights=tuple(sorted(stored.items())) if stored else (), materialized_weight_bytes=materialized,
        )))
    return rows


def formulas_with(overrides: Mapping[str, Formula] | None) -> Mapping[str, Formula]:
    """The registered formulas with `overrides` put over them (for one count; the registry is
    never changed)."""
    if not overrides or overrides is FORMULAS:
        return FORMULAS
    if not isinstance(overrides, Mapping):
        raise FormulaError(f"formulas={overrides!r} is not a mapping", "pass formulas={'Relu': my_formula}: op type -> function(OpView) -> Work")
    for op_type, func in overrides.items():
        if not isinstance(op_type, str) or not op_type:
            raise FormulaError(f"formulas has the key {op_type!r}, which is not an op type name", "key formulas by OpenVINO op type, e.g. 'Relu'")
        if not callable(func):
            raise FormulaError(f"the formula for {op_type!r} is {func!r}, not a function", "give a function(OpView) -> Work")
    return _GivenFormulas({**FORMULAS, **overrides}, given=frozenset(overrides))


class _GivenFormulas(dict):
    """The formulas of one count, knowing which op types the caller's own formulas cover: a
    caller's formula that fails is the caller's to fix, and is named, never hidden in a note."""

    def __init__(self, table: Mapping[str, Formula], given: frozenset[str]):
        super().__init__(table)
        self.given = given


def _given_formula_failed(formula: Formula, kind: str, name: str, problem: str) -> FormulaError:
    called = getattr(formula, "__qualname__", None) or repr(formula)
    return FormulaError(f"the formula {one_line(called, 80)} given for {kind}, on op {one_line(name, 120)!r}, {problem}",
                        "fix the formula: it takes an OpView and returns Work(macs=..., other_flops=...) of whole numbers, 0 or more")




def count_loaded(loaded: LoadedModel, include_other: bool = False, formulas: Mapping[str, Formula] | None = None) -> ModelCost:
    with collector_paused():
        return _count_loaded(loaded, include_other, formulas)


def _count_loaded(loaded: LoadedModel, include_other: bool, formulas: Mapping[str, Formula] | None) -> ModelCost:
    table = formulas_with(formulas)
    graph = Graph(loaded.ov_model, loaded.weight_inputs)
    rows = same_on_every_route(graph, op_rows(graph, table))
    layers, ops = group_layers(rows, graph.constants)
    return ModelCost(
        model=str(loaded.path), format=loaded.format, inputs=loaded.inputs, ops=ops, layers=layers,
        include_other=include_other, memory=activation_memory(graph),
        metadata=result_metadata(weights_read=loaded.weights_read),
    )


def count(model: str | os.PathLike | LoadedModel | Any, shape: str | dict | None = None, include_other: bool = False,
          batch: int | None = None, formulas: Mapping[str, Formula] | None = None, example_input: Any = None) -> ModelCost:
    """Count a model's MACs, FLOPs, parameters and bytes, op by op and layer by layer.

    `model` is a path (IR .xml, .onnx, .tflite ...), a `LoadedModel`, an `openvino.Model`, or a
    `torch.nn.Module` with `example_input` (converted by `openvino.convert_model`). By default the total counts
    multiply-accumulates of convolutions and matmuls only, as the seed exercise does;
    `include_other=True` adds bias, activation, pooling and normalization FLOPs. `formulas`
    ({op type: function(OpView) -> Work}) replaces or adds formulas for this call only.
    """
    table = formulas_with(formulas)  # checked before the model is read
    with collector_paused():
        loaded = model if isinstance(model, LoadedModel) else load(model, shape=shape, batch=batch, example_input=example_input)
        return _count_loaded(loaded, include_other, table)
