"""Constant folding: the parts of a graph that compute from constants alone, computed once and
stored as constants, so that a model whose weights the graph makes (ConstantOfShape, Expand, Mul of
constants — the `onnx` package's light models) shows its convolutions with plain constant weights to
what rewrites it (`convert`, `quantize`).

- ONNX: every node whose inputs are all initializers or Constant outputs (or the outputs of such
  nodes) is evaluated with the `onnx` package's reference evaluator, and the values the rest of the
  graph reads become initializers. Random-number ops and nodes with subgraphs are left alone.
- OpenVINO: its own `ConstantFolding` pass, as `openvino.convert_model` runs it.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

# ops whose output is not a function of their inputs: never folded
NONDETERMINISTIC = frozenset({"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli"})


@dataclass(frozen=True)
class Folded:
    """What folding did: how many nodes it computed away, by op type."""

    by_type: dict[str, int]

    @property
    def nodes(self) -> int:
        return sum(self.by_type.values())

    def describe(self) -> str:
        return ", ".join(f"{op_type} ×{count}" for op_type, count in sorted(self.by_type.items(), key=lambda item: -item[1]))


def _subgraph_names(node) -> set[str]:
    """Every tensor name a node's subgraphs (If / Loop / Scan bodies) mention: they may read outer values."""
    from onnx import AttributeProto

    names: set[str] = set()
    graphs = [a.g for a in node.attribute if a.type == AttributeProto.GRAPH]
    graphs += [g for a in node.attribute if a.type == AttributeProto.GRAPHS for g in a.graphs]
    for graph in graphs:
        for inner in graph.node:
            names.update(inner.input)
            names |= _subgraph_names(inner)
    return names


def _has_subgraph(node) -> bool:
    from onnx import AttributeProto

    return any(a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) for a in node.attribute)


def fold_onnx_constants(proto) -> Folded:
    """Fold `proto`'s constant subgraphs in place (see the module docstring)."""
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    graph = proto.graph
    constant = {t.name for t in graph.initializer}
    foldable = []
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            constant.update(node.output)
            continue
        inputs = [name for name in node.input if name]
        if (node.domain in ("", "ai.onnx") and node.op_type not in NONDETERMINISTIC and not _has_subgraph(node)
                and inputs and all(name in constant for name in inputs)):
            foldable.append(node)
            constant.update(node.output)
    if not foldable:
        return Folded({})
    folded_ids = {id(node) for node in foldable}
    produced = {name for node in foldable for name in node.output}
    read_elsewhere = {name for node in graph.node if id(node) not in folded_ids for name in node.input}
    read_elsewhere |= {o.name for o in graph.output}
    for node in graph.node:
        read_elsewhere |= _subgraph_names(node)
    needed = [name for node in foldable for name in node.output if name in read_elsewhere]
    # the constant part of the graph alone, with the initializers and Constant nodes it reads
    sources = [node for node in graph.node if node.op_type == "Constant" and node.domain in ("", "ai.onnx")] + foldable
    part = helper.make_graph(sources, "constants", [], [helper.make_empty_tensor_value_info(n) for n in needed],
                             initializer=list(graph.initializer))
    part_model = helper.make_model(part, opset_imports=list(proto.opset_import))
    part_model.ir_version = proto.ir_version
    values = ReferenceEvaluator(part_model).run(None, {})
    kept = [node for node in graph.node if id(node) not in folded_ids]
    del graph.node[:]
    graph.node.extend(kept)
    for name, value in zip(needed, values):
        graph.initializer.append(numpy_helper.from_array(value, name))
    # initializers only the folded nodes read go, with their listing as graph inputs (old-style models)
    still_read = {name for node in graph.node for name in node.input} | {o.name for o in graph.output} | read_elsewhere
    unused = {t.name for t in graph.initializer if t.name not in still_read and t.name not in produced}
    if unused:
        keep = [t for t in graph.initializer if t.name not in unused]
        del graph.initializer[:]
        graph.initializer.extend(keep)
        listed = [i for i in graph.input if i.name not in unused]
        del graph.input[:]
        graph.input.extend(listed)
    return Folded(dict(Counter(node.op_type for node in foldable)))


def fold_openvino_constants(model) -> None:
    """Run OpenVINO's ConstantFolding pass over `model` (an `openvino.Model`), in place."""
    from openvino.passes import ConstantFolding, Manager

    manager = Manager()
    manager.register_pass(ConstantFolding())
    manager.run_passes(model)
