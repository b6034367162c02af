"""Turn an OpenVINO graph into `OpCost` rows, then into layers: `count()`."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..results.metadata import utc_now
from .cost import NOTE_DYNAMIC, NOTE_NO_FORMULA, ModelCost, OpCost
from .formulas import FORMULAS, Formula, OpView, Work
from .formulas import numel as _numel
from .graph import static_shape
from .layers import group_layers
from .memory import activation_memory
from .optypes import CONVOLUTIONS, POOLS, SETTING_INPUTS, STRUCTURAL
from .precision import QUANTIZATION_RANGE_INPUTS, counts_as_weight, op_precision, stored_bytes, stored_sources, value_inputs
from ..errors import FormulaError
from ..model.reading import LoadedModel, load



def constant_nodes(model, weight_inputs: frozenset[str]) -> set[str]:
    """Names of nodes whose outputs are known before inference: weights, their decompression
    (Convert, Multiply by a scale ...) and shape arithmetic. OpenVINO folds them at compile time,
    so they cost nothing per inference and are not listed as ops."""
    known: set[str] = set()
    for node in model.get_ordered_ops():
        kind = node.get_type_name()
        if kind == "Constant":
            known.add(node.get_name())
        elif kind == "Parameter":
            if set(node.get_output_tensor(0).get_names()) & weight_inputs or node.get_friendly_name() in weight_inputs:
                known.add(node.get_name())
        elif kind in ("ShapeOf",) and node.get_input_partial_shape(0).is_static:
            known.add(node.get_name())
        elif node.get_input_size() > 0 and all(node.input_value(i).get_node().get_name() in known for i in range(node.get_input_size())):
            if kind != "Result":
                known.add(node.get_name())
    return known


def _attrs(node) -> dict[str, Any]:
    try:
        return dict(node.get_attributes())
    except Exception:  # some ops' attribute visitors are not exposed to Python
        return {}


def _kernel_and_count(kind: str, inputs: tuple, outputs: tuple, attrs: dict) -> tuple[tuple[int, ...] | None, int | None]:
    if kind in CONVOLUTIONS:
        weights = inputs[2] if kind == "DeformableConvolution" else inputs[1]
        out = outputs[0]
        if not weights or not out or len(out) < 2:
            return None, None
        spatial = len(out) - 2
        return tuple(weights[-spatial:]) if spatial else (), out[1]
    if kind in POOLS:
        return tuple(int(k) for k in attrs.get("kernel", ())) or None, None
    if kind == "MatMul" and outputs[0]:
        return None, outputs[0][-1]
    return None, None


def op_rows(loaded: LoadedModel, known: set[str], formulas: Mapping[str, Formula] = FORMULAS) -> list[tuple[Any, OpCost]]:
    """Every operation not in `known` (see `constant_nodes`) with its cost, in topological order,
    paired with its node; `formulas` maps op types to their formulas."""
    model = loaded.ov_model
    counted_params: set[tuple[str, int]] = set()
    stored_seen: set[str] = set()
    rows = []
    for node in model.get_ordered_ops():
        kind = node.get_type_name()
        if kind in STRUCTURAL or node.get_name() in known:
            continue
        n_in, n_out = node.get_input_size(), node.get_output_size()
        in_shapes = tuple(static_shape(node.get_input_partial_shape(i)) for i in range(n_in))
        out_shapes = tuple(static_shape(node.get_output_partial_shape(i)) for i in range(n_out))
        attrs = _attrs(node)
        params = 0
        bytes_read = 0
        stored: dict[str, int] = {}
        for i in range(n_in):
            source = node.input_value(i)
            shape = in_shapes[i]
            element = node.get_input_element_type(i)
            producer = source.get_node()
            weights = []
            if producer.get_name() in known and i in value_inputs(node) and i not in SETTING_INPUTS.get(kind, ()):
                weights = [tensor for tensor, converted in stored_sources(source, known) if counts_as_weight(tensor, converted)]
            # weights are kept at the precision they are stored in (i8 behind a Convert, f16 ...)
            for tensor in weights:
                if tensor.get_name() not in stored_seen:
                    stored_seen.add(tensor.get_name())
                    precision = tensor.get_output_element_type(0).get_type_name()
                    stored[precision] = stored.get(precision, 0) + stored_bytes(tensor)
            if shape is not None:
                bytes_read += _numel(shape) * element.size
            # a weight: a constant floating-point input, counted once however many ops share it;
            # a single number (clip bound, epsilon, scale) is a hyper-parameter, not a weight
            if producer.get_name() in known and element.is_real() and shape is not None and _numel(shape) > 1 \
                    and i not in SETTING_INPUTS.get(kind, ()) and i not in QUANTIZATION_RANGE_INPUTS.get(kind, ()):
                key = (producer.get_name(), source.get_index())
                if key not in counted_params:
                    counted_params.add(key)
                    params += _numel(shape)
        bytes_written = sum(_numel(s) * node.get_output_element_type(i).size for i, s in enumerate(out_shapes) if s is not None)
        formula = formulas.get(kind)
        dynamic = any(s is None for s in in_shapes + out_shapes)
        note = ""
        macs = other = 0
        counted = formula is not None and not dynamic
        if formula is None:
            note = NOTE_NO_FORMULA
        elif dynamic:
            note = NOTE_DYNAMIC
        else:
            try:
                work = formula(OpView(type=kind, input_shapes=in_shapes, output_shapes=out_shapes, attrs=attrs, name=node.get_friendly_name()))
                if not isinstance(work, Work):
                    raise TypeError(f"it returned {type(work).__name__}, not a Work")
                macs, other = work.macs, work.other_flops
            except (ValueError, IndexError, KeyError, TypeError) as exc:
                counted, note = False, f"formula failed: {exc}"
        kernel, kernels = _kernel_and_count(kind, in_shapes, out_shapes, attrs) if not dynamic else (None, None)
        rows.append((node, OpCost(
            name=node.get_friendly_name(), type=kind, layer="",
            input_shapes=tuple(s or () for s in in_shapes), output_shapes=tuple(s or () for s in out_shapes),
            kernel=kernel, kernels=kernels, macs=macs, other_flops=other, params=params,
            bytes_read=bytes_read, bytes_written=bytes_written, counted=counted, note=note,
            precision=op_precision(node, known), stored_weights=tuple(sorted(stored.items())),
        )))
    return rows




def formula_table(overrides: Mapping[str, Formula] | None) -> Mapping[str, Formula]:
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
    return {**FORMULAS, **overrides}


def count_loaded(loaded: LoadedModel, include_other: bool = False, formulas: Mapping[str, Formula] | None = None) -> ModelCost:
    table = formula_table(formulas)
    known = constant_nodes(loaded.ov_model, loaded.weight_inputs)
    rows = op_rows(loaded, known, table)
    layers, ops = group_layers(rows, known)
    return ModelCost(
        model=str(loaded.path), format=loaded.format, inputs=loaded.inputs, ops=ops, layers=layers,
        include_other=include_other, memory=activation_memory(loaded.ov_model, known),
        metadata={"weights_read": loaded.weights_read, "measured_at": utc_now()},
    )


def count(model: str | os.PathLike | LoadedModel, shape: str | dict | None = None, include_other: bool = False,
          batch: int | None = None, formulas: Mapping[str, Formula] | None = None) -> ModelCost:
    """Count a model's MACs, FLOPs, parameters and bytes, op by op and layer by layer.

    `model` is a path (IR .xml, .onnx, .tflite ...) or a `LoadedModel`. By default the total counts
    multiply-accumulates of convolutions and matmuls only, as the seed exercise does;
    `include_other=True` adds bias, activation, pooling and normalization FLOPs. `formulas`
    ({op type: function(OpView) -> Work}) replaces or adds formulas for this call only.
    """
    table = formula_table(formulas)  # checked before the model is read
    loaded = model if isinstance(model, LoadedModel) else load(model, shape=shape, batch=batch)
    return count_loaded(loaded, include_other=include_other, formulas=table)
