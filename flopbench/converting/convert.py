"""Standard ↔ separable: rewrite a model's convolutions, on OpenVINO IR and on ONNX.

- `to="separable"`: every k×k standard convolution (k > 1, one group) becomes a depthwise k×k
  (same strides, pads, dilations) followed by a pointwise 1×1; a bias stays with the pointwise.
- `to="standard"`: every depthwise convolution whose output reaches a pointwise 1×1 convolution
  only through per-channel ops (bias, BatchNorm, an activation) becomes one k×k convolution; the
  ops between the two go, since they act on channels the standard convolution never makes. What
  follows the pointwise stays.

A 1-channel-in, 1-channel-out convolution is left alone: it is depthwise and standard at once.
The new weights are seeded random (He-scaled normals): a converted model is for counting and
timing, not for accuracy. Every other layer keeps its shapes.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..counting.optypes import op_facts
from ..errors import ModelFileError, OptionError
from ..model.spec import check_seed
from ..model.folding import Folded, fold_onnx_constants, fold_openvino_constants
from ..model.reading import load, source_files
from ..results import writing
from ..results.codec import json_field, result_kind
from ..results.metadata import result_metadata

TARGETS = ("separable", "standard")

# ops that act on each channel alone, so a depthwise → pointwise pair may have them in between
_PER_CHANNEL_ONNX = {"BatchNormalization", "Relu", "Clip", "LeakyRelu", "PRelu", "Sigmoid", "HardSigmoid", "HardSwish",
                     "Elu", "Selu", "Tanh", "Add", "Mul", "Sub", "Div", "Identity"}
# (in an OpenVINO model: the op types registered as `per_channel`)


@dataclass(frozen=True)
class Rewrite:
    """One convolution (or depthwise + pointwise pair) replaced."""

    replaced: tuple[str, ...]  # node names in the source model
    created: tuple[str, ...]  # node names in the converted model
    input_channels: int
    output_channels: int
    kernel: tuple[int, int]


@result_kind("convert", version=1)
@dataclass(frozen=True)
class Conversion:
    model: str
    to: str
    format: str
    seed: int
    rewrites: tuple[Rewrite, ...]
    written: tuple[str, ...]  # empty when there was nothing to convert
    weights: str = "seeded random: for cost and speed, not accuracy"
    # nodes computing weights from constants alone, folded into stored weights before converting
    folded: int = 0
    folded_by_type: tuple[tuple[str, int], ...] = json_field(mapping=True, default=())  # (("ConstantOfShape", 239),)
    metadata: Mapping[str, Any] = json_field(default_factory=dict, compare=False)  # stamped when converted


def _he(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    weights = rng.standard_normal(shape, dtype=np.float32)
    weights *= np.float32(np.sqrt(2.0 / max(1, fan_in)))
    return weights


def _separable_name(depthwise: str, pointwise: str) -> str:
    prefix = os.path.commonprefix([depthwise, pointwise]).rstrip("/_.:-")
    return prefix or pointwise


def _is_both(cin: int, cout: int) -> bool:
    """One channel in and out: depthwise and standard at once, left as it is."""
    return cin == 1 and cout == 1


# --- ONNX ---------------------------------------------------------------------------------------


def _attr(node, name: str, default):
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def _copied_attrs(node) -> dict[str, Any]:
    """A convolution's geometry, to give its replacement (group and kernel_shape set anew)."""
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute if a.name in ("strides", "pads", "dilations", "auto_pad")}


def _onnx_initializer(proto, name: str, array: np.ndarray) -> str:
    from onnx import numpy_helper

    proto.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
    return name


def _onnx_unique(taken: set[str], wanted: str) -> str:
    name, i = wanted, 1
    while name in taken:
        name, i = f"{wanted}_{i}", i + 1
    taken.add(name)
    return name


def _onnx_drop_unused(proto) -> None:
    used = {name for node in proto.graph.node for name in node.input}
    used |= {o.name for o in proto.graph.output}
    keep = [t for t in proto.graph.initializer if t.name in used]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(keep)
    inputs = [i for i in proto.graph.input if i.name in used]
    del proto.graph.input[:]
    proto.graph.input.extend(inputs)


def _onnx_to_separable(proto, rng) -> list[Rewrite]:
    from onnx import helper

    graph = proto.graph
    weights = {t.name: tuple(t.dims) for t in graph.initializer}
    taken = {n.name for n in graph.node} | {o for n in graph.node for o in n.output} | set(weights)
    rewrites: list[Rewrite] = []
    nodes = []
    for node in graph.node:
        dims = weights.get(node.input[1]) if node.op_type == "Conv" and len(node.input) > 1 else None
        if dims is None or len(dims) != 4 or _attr(node, "group", 1) != 1 or max(dims[2:]) <= 1 or _is_both(dims[1], dims[0]):
            nodes.append(node)
            continue
        cout, cin, kh, kw = dims
        base = node.name or node.output[0]
        dw_name, pw_name = _onnx_unique(taken, f"{base}/depthwise"), _onnx_unique(taken, f"{base}/pointwise")
        dw_out = _onnx_unique(taken, f"{base}/depthwise:0")
        dw_w = _onnx_initializer(proto, _onnx_unique(taken, f"{dw_name}.weight"), _he(rng, (cin, 1, kh, kw), kh * kw))
        pw_w = _onnx_initializer(proto, _onnx_unique(taken, f"{pw_name}.weight"), _he(rng, (cout, cin, 1, 1), cin))
        nodes.append(helper.make_node("Conv", [node.input[0], dw_w], [dw_out], name=dw_name, group=cin, kernel_shape=[kh, kw],
                                      **_copied_attrs(node)))
        nodes.append(helper.make_node("Conv", [dw_out, pw_w, *node.input[2:3]], [node.output[0]], name=pw_name, group=1,
                                      kernel_shape=[1, 1]))
        rewrites.append(Rewrite((node.name,), (dw_name, pw_name), cin, cout, (kh, kw)))
    del graph.node[:]
    graph.node.extend(nodes)
    return rewrites


def _onnx_pointwise(node, dims, cin: int) -> bool:
    return (node.op_type == "Conv" and dims is not None and len(dims) == 4 and dims[1] == cin and tuple(dims[2:]) == (1, 1)
            and _attr(node, "group", 1) == 1 and all(s == 1 for s in _attr(node, "strides", [1, 1]))
            and all(p == 0 for p in _attr(node, "pads", [0, 0, 0, 0])))


def _onnx_to_standard(proto, rng) -> list[Rewrite]:
    from onnx import helper

    graph = proto.graph
    weights = {t.name: tuple(t.dims) for t in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    taken = {n.name for n in graph.node} | set(weights)
    replaced: dict[int, Any] = {}  # id(first node of a pair) -> its replacement
    dropped: set[int] = set()
    rewrites: list[Rewrite] = []
    for node in graph.node:
        dims = weights.get(node.input[1]) if node.op_type == "Conv" and len(node.input) > 1 else None
        # depthwise: one input channel per group (a 1-channel input makes any Conv depthwise)
        if not dims or len(dims) != 4 or dims[1] != 1 or id(node) in dropped or dims[0] % _attr(node, "group", 1):
            continue
        group = _attr(node, "group", 1)
        channels = dims[0]  # depthwise output channels (input channels × multiplier)
        chain, tensor, pointwise = [], node.output[0], None
        while tensor not in outputs and len(consumers.get(tensor, [])) == 1:
            nxt = consumers[tensor][0]
            nxt_dims = weights.get(nxt.input[1]) if nxt.op_type == "Conv" and len(nxt.input) > 1 else None
            if _onnx_pointwise(nxt, nxt_dims, channels):
                pointwise = nxt
                break
            if nxt.op_type not in _PER_CHANNEL_ONNX or len(nxt.output) != 1 or any(
                    i != tensor and i and i not in weights for i in nxt.input):
                break
            chain.append(nxt)
            tensor = nxt.output[0]
        if pointwise is None:
            continue
        cin, (kh, kw) = group, dims[2:]
        cout = weights[pointwise.input[1]][0]
        name = _onnx_unique(taken, _separable_name(node.name, pointwise.name))
        weight = _onnx_initializer(proto, _onnx_unique(taken, f"{name}.weight"), _he(rng, (cout, cin, kh, kw), cin * kh * kw))
        replaced[id(node)] = helper.make_node("Conv", [node.input[0], weight, *pointwise.input[2:3]], [pointwise.output[0]],
                                              name=name, group=1, kernel_shape=[kh, kw], **_copied_attrs(node))
        dropped |= {id(n) for n in chain} | {id(pointwise)}
        rewrites.append(Rewrite((node.name, *(n.name for n in chain), pointwise.name), (name,), cin, cout, (kh, kw)))
    nodes = [replaced.get(id(n), n) for n in graph.node if id(n) not in dropped]
    del graph.node[:]
    graph.node.extend(nodes)
    return rewrites


def _convert_onnx(path: Path, to: str, rng) -> tuple[Any, list[Rewrite], Folded]:
    import onnx

    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # validated by load() already; a race with a changing file
        raise ModelFileError(f"cannot read {path.name} as ONNX ({exc})", "check the file") from None
    # weights the graph computes (ConstantOfShape ...) become initializers first, as OpenVINO's
    # constant folding makes them constants: a convolution is found by its weights' shape
    folded = fold_onnx_constants(proto)
    rewrites = _onnx_to_separable(proto, rng) if to == "separable" else _onnx_to_standard(proto, rng)
    _onnx_drop_unused(proto)
    return proto, rewrites, folded


# --- OpenVINO IR --------------------------------------------------------------------------------


def _ov_constant(array: np.ndarray, name: str):
    import openvino.opset13 as ops

    node = ops.constant(np.ascontiguousarray(array, dtype=np.float32))
    node.set_friendly_name(name)
    return node


def _ov_geometry(node) -> dict[str, Any]:
    attrs = node.get_attributes()
    return {"strides": list(attrs["strides"]), "pads_begin": list(attrs["pads_begin"]), "pads_end": list(attrs["pads_end"]),
            "dilations": list(attrs["dilations"]), "auto_pad": str(attrs.get("auto_pad", "explicit")).upper()}


def _ov_replace(old, new) -> None:
    """Consumers of `old`'s output read `new`'s instead; the tensor names move with them."""
    names = old.output(0).get_names()
    for target in list(old.output(0).get_target_inputs()):
        target.replace_source_output(new.output(0))
    old.output(0).get_tensor().set_names(set())
    new.output(0).get_tensor().set_names(names)


def _static(shape) -> tuple[int, ...] | None:
    return tuple(int(d) for d in shape.to_shape()) if shape.is_static else None


def _ov_to_separable(model, rng) -> list[Rewrite]:
    import openvino.opset13 as ops

    rewrites: list[Rewrite] = []
    for node in list(model.get_ordered_ops()):
        if node.get_type_name() != "Convolution":
            continue
        dims = _static(node.get_input_partial_shape(1))
        if not dims or len(dims) != 4 or max(dims[2:]) <= 1 or _is_both(dims[1], dims[0]):
            continue
        cout, cin, kh, kw = dims
        name, geometry = node.get_friendly_name(), _ov_geometry(node)
        dw = ops.group_convolution(node.input_value(0), _ov_constant(_he(rng, (cin, 1, 1, kh, kw), kh * kw), f"{name}/depthwise.weight"),
                                   **geometry)
        dw.set_friendly_name(f"{name}/depthwise")
        pw = ops.convolution(dw, _ov_constant(_he(rng, (cout, cin, 1, 1), cin), f"{name}/pointwise.weight"),
                             [1, 1], [0, 0], [0, 0], [1, 1])
        pw.set_friendly_name(f"{name}/pointwise")
        _ov_replace(node, pw)
        rewrites.append(Rewrite((name,), (f"{name}/depthwise", f"{name}/pointwise"), cin, cout, (kh, kw)))
    return rewrites


def _ov_is_constant(output) -> bool:
    node = output.get_node()
    while node.get_type_name() in ("Convert", "Reshape", "Unsqueeze") and node.get_input_size():
        node = node.input_value(0).get_node()
    return node.get_type_name() == "Constant"


def _ov_depthwise(node) -> tuple[int, int, int, int] | None:
    """(input channels, output channels, kh, kw) of a depthwise convolution, else None."""
    if node.get_type_name() not in ("GroupConvolution", "Convolution"):
        return None
    dims = _static(node.get_input_partial_shape(1))
    if node.get_type_name() == "GroupConvolution" and dims and len(dims) == 5 and dims[2] == 1:
        return dims[0], dims[0] * dims[1], dims[3], dims[4]
    if node.get_type_name() == "Convolution" and dims and len(dims) == 4 and dims[:2] == (1, 1):
        return 1, 1, dims[2], dims[3]
    return None


def _ov_pointwise(node, channels: int) -> bool:
    if node.get_type_name() != "Convolution":
        return False
    dims = _static(node.get_input_partial_shape(1))
    geometry = _ov_geometry(node)
    return (bool(dims) and len(dims) == 4 and dims[1] == channels and dims[2:] == (1, 1) and all(s == 1 for s in geometry["strides"])
            and all(p == 0 for p in geometry["pads_begin"] + geometry["pads_end"]))


def _ov_to_standard(model, rng) -> list[Rewrite]:
    import openvino.opset13 as ops

    rewrites: list[Rewrite] = []
    gone: set[str] = set()
    for node in list(model.get_ordered_ops()):
        found = None if node.get_name() in gone else _ov_depthwise(node)
        if not found:
            continue
        cin, channels, kh, kw = found
        chain, current, pointwise = [], node, None
        while True:
            targets = list(current.output(0).get_target_inputs())
            if len(targets) != 1 or current.get_output_size() != 1:
                break
            nxt = targets[0].get_node()
            if _ov_pointwise(nxt, channels) and targets[0].get_index() == 0:
                pointwise = nxt
                break
            others_constant = all(_ov_is_constant(nxt.input_value(i)) for i in range(nxt.get_input_size())
                                  if i != targets[0].get_index())
            if not op_facts(nxt.get_type_name()).per_channel or not others_constant:
                break
            chain.append(nxt)
            current = nxt
        if pointwise is None:
            continue
        cout = int(pointwise.get_input_partial_shape(1).to_shape()[0])
        name = _separable_name(node.get_friendly_name(), pointwise.get_friendly_name())
        conv = ops.convolution(node.input_value(0), _ov_constant(_he(rng, (cout, cin, kh, kw), cin * kh * kw), f"{name}.weight"),
                               **_ov_geometry(node))
        conv.set_friendly_name(name)
        _ov_replace(pointwise, conv)
        gone |= {n.get_name() for n in (node, *chain, pointwise)}
        rewrites.append(Rewrite((node.get_friendly_name(), *(n.get_friendly_name() for n in chain), pointwise.get_friendly_name()),
                                (name,), cin, cout, (kh, kw)))
    return rewrites


# --- API ----------------------------------------------------------------------------------------


def check_target(to: str) -> str:
    if to not in TARGETS:
        raise OptionError(f"unknown --to {to!r}", f"choose one of: {', '.join(TARGETS)}")
    return to


def plan_output(model: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Refuse an output of another format than the model's, or one that would overwrite an input."""
    source, target = Path(model), Path(output)
    expected = ".onnx" if source.suffix.lower() == ".onnx" else ".xml"
    if source.suffix.lower() not in (".onnx", ".xml"):
        raise ModelFileError(f"convert reads OpenVINO IR (.xml) and ONNX (.onnx), not {source.name}", "convert the model to one of them first")
    if target.suffix.lower() != expected:
        raise OptionError(f"-o {target.name}: the converted model is written in the format it was read in ({expected})",
                          f"name the output {target.with_suffix(expected).name}")
    protect = source_files(source)
    writing.check_writable(target, protect=protect)
    if expected == ".xml":
        writing.check_writable(target.with_suffix(".bin"), protect=protect)
    return target


def convert(model: str | os.PathLike, to: str, output: str | os.PathLike, seed: int = 0) -> Conversion:
    """Rewrite `model`'s convolutions (see the module docstring) and write the result to `output`
    (same format). With nothing to convert nothing is written and `written` is empty."""
    check_target(to)
    check_seed(seed)
    target = plan_output(model, output)
    loaded = load(model)  # validates the file (size, XML safety, external data) before anything else reads it
    rng = np.random.default_rng(seed)
    protect = source_files(loaded.path)
    folded = Folded({})
    if loaded.format == "onnx":
        proto, rewrites, folded = _convert_onnx(loaded.path, to, rng)
        written = (writing.save_onnx_model(proto, target, protect=protect),) if rewrites else ()
    else:
        from ..model.reading import read_openvino_model

        ov_model = read_openvino_model(loaded.path)  # the model written keeps the names the count gave
        fold_openvino_constants(ov_model)  # weights computed in the graph become constants first
        rewrites = _ov_to_separable(ov_model, rng) if to == "separable" else _ov_to_standard(ov_model, rng)
        if rewrites:
            ov_model.validate_nodes_and_infer_types()
            written = writing.save_openvino_model(ov_model, target, protect=protect)
        else:
            written = ()
    return Conversion(model=str(loaded.path), to=to, format=loaded.format, seed=seed, rewrites=tuple(rewrites),
                      written=tuple(str(p) for p in written), folded=folded.nodes,
                      folded_by_type=tuple(sorted(folded.by_type.items())), metadata=result_metadata())
