"""The join: engine nodes → the counted ops they ran → the layers of `flopbench flops`.

An engine runs fused nodes (Conv + bias + ReLU as one). Each node names the original ops it covers;
its time, and the bytes it really moves (as executed: after fusion, in its precision), are shared
over them in proportion to their work (FLOPs, else bytes counted, else evenly), and every op's time
and bytes roll up into its layer. Shared alike, every op of a node has the node's own intensity and
rate: an Add fused into a convolution is not a point of its own far above the roof. The layers a
node ran together are a fused group, named after the one with the most work. A node that covers no
counted op — a reorder or a layout conversion the engine inserted — keeps its own row."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..counting.cost import LayerCost, ModelCost, OpCost
from ..counting.optypes import op_facts
from ..measure.engines import NodeTime


@dataclass(frozen=True)
class OpTime:
    """One counted op's share of the engine's time, per inference."""

    op: OpCost
    time_ns: float
    nodes: tuple[str, ...]  # the engine nodes that ran it
    kernels: tuple[str, ...]
    precisions: tuple[str, ...]
    executed_bytes: float = 0.0  # its share of the bytes its nodes moved as executed
    working_set_bytes: int = 0  # the largest node that ran it: all it read and wrote
    shares: tuple[tuple[str, float], ...] = ()  # (engine node, the fraction of its time that is this op's)


@dataclass(frozen=True)
class LayerTime:
    layer: LayerCost
    time_ns: float
    kernels: tuple[str, ...]  # of the nodes that ran its conv / matmul (else any of its ops)
    precisions: tuple[str, ...]
    untimed_ops: tuple[str, ...]  # its ops that no engine node names
    parts: tuple["LayerTime", ...] = ()
    executed_bytes: float | None = None  # bytes its nodes moved as executed (its share); None when the engine does not say
    working_set_bytes: int | None = None  # of the largest node that ran it
    nodes: tuple[str, ...] = ()  # the engine nodes that ran it
    fused_into: str = ""  # the layer whose node ran this one with it (the group's main layer), if another
    fused: tuple[str, ...] = ()  # the layers its node ran with it, when it is the group's main layer
    merged_into: str = ""  # the layer whose op the engine ran in place of this one's (equal ops, run once)
    shares: tuple[tuple[str, float], ...] = ()  # (engine node, the fraction of its time that is this layer's)


@dataclass(frozen=True)
class Join:
    layers: tuple[LayerTime, ...]
    inserted: tuple[NodeTime, ...]  # nodes the engine added (reorders, conversions): their own rows
    untimed_ops: tuple[str, ...]  # counted ops no engine node runs (the engine removed or folded them)
    joined_by_layer: tuple[str, ...] = ()  # ops no node names, timed with the node that runs their layer
    merged: tuple[tuple[str, str], ...] = ()  # (op, the op the engine ran in its place): computed once for both

    @property
    def layers_ns(self) -> float:
        return sum(layer.time_ns for layer in self.layers)

    @property
    def inserted_ns(self) -> float:
        return float(sum(node.time_ns for node in self.inserted))


def _work(op: OpCost) -> int:
    return op.flops + op.other_flops


def fractions(ops: Sequence[OpCost]) -> list[float]:
    """How a node's time and bytes split over the ops it covers: in proportion to their work."""
    for weigh in (_work, lambda op: op.bytes_read + op.bytes_written, lambda op: 1):
        weights = [weigh(op) for op in ops]
        if sum(weights) > 0:
            total = sum(weights)
            return [w / total for w in weights]
    return [0.0 for _ in ops]


def share(node: NodeTime, ops: Sequence[OpCost]) -> list[float]:
    """The node's time split over the ops it covers, in proportion to their work."""
    return [node.time_ns * fraction for fraction in fractions(ops)]


def _unique(values) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


MADE_UP = re.compile(r"^(?P<stem>.+)_(?P<number>\d+)$")


def reconcile_names(cost: ModelCost, nodes: Sequence[NodeTime]) -> list[NodeTime]:
    """The engine read the model on its own, and a few names come out different from the count's:
    names OpenVINO makes up are numbered afresh on every read (`Softmax_563` / `Softmax_1133`; a file's
    are renamed after the op they feed on both reads, `model/names.py`, but a model read another way
    keeps them), and an ONNX file read without its weights can name an op after both its node and its output
    (`n61_r61` / `n61`). Names that match nothing are paired by their stem, in order; the rest stay
    unmatched (and are reported)."""
    counted = {op.name for op in cost.ops}
    named = {name for node in nodes for name in node.original_names}
    free_ops = [op.name for op in cost.ops if op.name not in named]
    unknown = list(dict.fromkeys(name for node in nodes for name in node.original_names if name not in counted))
    renamed: dict[str, str] = {}
    taken: set[str] = set()
    for name in unknown:  # the count's name extends the engine's: `n61` ran what the count calls `n61_r61`
        matches = [op for op in free_ops if op.startswith(name + "_")]
        if len(matches) == 1 and matches[0] not in taken:
            renamed[name] = matches[0]
            taken.add(matches[0])

    def by_stem(names):
        groups: dict[str, list[tuple[int, str]]] = {}
        for name in names:
            found = MADE_UP.match(name)
            if found:
                groups.setdefault(found["stem"], []).append((int(found["number"]), name))
        return {stem: [n for _, n in sorted(items)] for stem, items in groups.items()}

    # made-up names pair up only one to one: when the engine made up more (a batch norm it decomposed
    # and folded into a convolution), no pairing is safe, and the layer join takes over
    ops_by_stem = by_stem(op for op in free_ops if op not in taken)
    for stem, names in by_stem(n for n in unknown if n not in renamed).items():
        if len(names) == len(ops_by_stem.get(stem, ())):
            renamed.update(zip(names, ops_by_stem[stem]))
    if not renamed:
        return list(nodes)
    return [replace(node, original_names=tuple(renamed.get(n, n) for n in node.original_names)) for node in nodes]


def _layer_downstream(index: int, nodes: Sequence[NodeTime], covered: list[list[OpCost]],
                      consumers: dict[str, list[int]], seen: set[int]) -> str | None:
    """The layer of the first node downstream of `index` that runs counted ops."""
    for nxt in consumers.get(nodes[index].name, ()):
        if nxt in seen:
            continue
        seen.add(nxt)
        if covered[nxt]:
            return covered[nxt][0].layer
        found = _layer_downstream(nxt, nodes, covered, consumers, seen)
        if found:
            return found
    return None


def _covered(nodes: Sequence[NodeTime], by_name: dict[str, OpCost]) -> list[list[OpCost]]:
    """The counted ops each node names; then each op no node names joins a node of its layer.

    OpenVINO's FullyConnected keeps the bias's name and drops the MatMul's; a convolution with a
    batch norm folded into it may keep only names OpenVINO made up. Such a node — it names ops, but
    none that were counted — belongs to the layer of the first node downstream that runs counted
    ops, and the unnamed ops of that layer are its; failing that, they join a node of their layer of
    their own type (else the one that runs most of their layer)."""
    covered = [[by_name[name] for name in dict.fromkeys(node.original_names) if name in by_name] for node in nodes]
    named = {op.name for ops in covered for op in ops}
    consumers: dict[str, list[int]] = {}
    for index, node in enumerate(nodes):
        for feed in node.inputs:
            consumers.setdefault(feed, []).append(index)
    orphans: dict[str, list[int]] = {}
    for index, node in enumerate(nodes):
        if node.original_names and not covered[index] and node.time_ns > 0:
            layer = _layer_downstream(index, nodes, covered, consumers, {index})
            if layer:
                orphans.setdefault(layer, []).append(index)
    index_of = {node.name: index for index, node in enumerate(nodes)}

    def upstream_of_type(starts: list[int], kind: str) -> int | None:
        """A node of the op's own type feeding the layer's nodes: OpenVINO merges parallel 1×1
        convolutions that read one tensor into one node, which keeps only the first one's name."""
        pending, seen = list(starts), set(starts)
        for _ in range(4):
            following = []
            for index in pending:
                for feed in nodes[index].inputs:
                    found = index_of.get(feed)
                    if found is None or found in seen:
                        continue
                    seen.add(found)
                    if nodes[found].type == kind and covered[found]:
                        return found
                    following.append(found)
            pending = following
        return None

    for op in by_name.values():
        if op.name in named or not op.layer:
            continue
        in_layer = [i for i, ops in enumerate(covered) if any(other.layer == op.layer for other in ops)]
        if orphans.get(op.layer):
            chosen = max(orphans[op.layer], key=lambda i: nodes[i].time_ns)
        elif in_layer and all(nodes[i].type != op.type for i in in_layer) and upstream_of_type(in_layer, op.type) is not None:
            chosen = upstream_of_type(in_layer, op.type)
        elif in_layer:
            # a node of the op's own type first: a separable layer's depthwise convolution is its
            # GroupConvolution node's, never the pointwise node's that happens to be slower
            same_type = [i for i in in_layer if nodes[i].type == op.type]
            chosen = max(same_type or in_layer, key=lambda i: nodes[i].time_ns)
        else:
            continue
        covered[chosen].append(op)
    # an op left out entirely, of a type some node runs without naming any op of that type (OpenVINO's
    # Softmax node named after the Reshape around it): paired in order when the counts agree
    joined = {op.name for ops in covered for op in ops}
    left: dict[str, list[OpCost]] = {}
    for op in by_name.values():
        if op.name not in joined:
            left.setdefault(op.type, []).append(op)
    for kind, ops in left.items():
        hosts = [i for i, node in enumerate(nodes) if node.type == kind and covered[i]
                 and all(other.type != kind for other in covered[i])]
        if len(hosts) == len(ops):
            for index, op in zip(hosts, ops):
                covered[index].append(op)
    return covered


def op_times(cost: ModelCost, nodes: Sequence[NodeTime]) -> tuple[dict[str, OpTime], list[NodeTime], tuple[str, ...]]:
    """Each counted op's time; the nodes that cover none; the ops joined through their layer."""
    by_name = {op.name: op for op in cost.ops}
    spent: dict[str, float] = {}
    moved: dict[str, float] = {}
    ran_by: dict[str, list[NodeTime]] = {}
    fractions_of: dict[str, list[tuple[str, float]]] = {}
    inserted: list[NodeTime] = []
    named = {name for node in nodes for name in node.original_names}
    for node, covered in zip(nodes, _covered(nodes, by_name)):
        if not covered:
            if node.time_ns > 0 or node.status == "EXECUTED":
                inserted.append(node)
            continue
        for op, fraction in zip(covered, fractions(covered)):
            spent[op.name] = spent.get(op.name, 0.0) + node.time_ns * fraction
            moved[op.name] = moved.get(op.name, 0.0) + (node.bytes_read + node.bytes_written) * fraction
            ran_by.setdefault(op.name, []).append(node)
            fractions_of.setdefault(op.name, []).append((node.name, fraction))
    times = {name: OpTime(op=by_name[name], time_ns=spent[name], nodes=_unique(n.name for n in ran_by[name]),
                          kernels=_unique(n.exec_type for n in ran_by[name] if n.time_ns > 0),
                          precisions=_unique(n.precision for n in ran_by[name] if n.time_ns > 0),
                          executed_bytes=moved[name],
                          working_set_bytes=max(n.bytes_read + n.bytes_written for n in ran_by[name]),
                          shares=tuple(fractions_of[name]))
             for name in spent}
    by_layer = tuple(name for name in times if name not in named)
    return times, inserted, by_layer


def _layer_time(layer: LayerCost, times: dict[str, OpTime], merged_into: dict[str, str] | None = None) -> LayerTime:
    """A layer's time from its ops'. `merged_into` maps an op the engine merged into an equal one
    to that one's layer: a layer all of whose untimed ops were merged says into which."""
    merged_into = merged_into or {}
    parts = tuple(_layer_time(part, times, merged_into) for part in layer.parts)
    timed = [times[op.name] for op in layer.ops if op.name in times]
    untimed = [op.name for op in layer.ops if op.name not in times]
    into = _unique(merged_into.get(name, "") for name in untimed)
    # a layer's kernel and precision are those of its convolution or matmul
    main = [t for t in timed if op_facts(t.op.type).multiplies] or timed
    executed = sum(t.executed_bytes for t in timed)
    shares: dict[str, float] = {}
    for t in timed:
        for node, fraction in t.shares:
            shares[node] = shares.get(node, 0.0) + fraction
    return LayerTime(layer=layer, time_ns=sum(t.time_ns for t in timed),
                     kernels=_unique(k for t in main for k in t.kernels),
                     precisions=_unique(p for t in main for p in t.precisions),
                     untimed_ops=tuple(name for name in untimed if name not in merged_into), parts=parts,
                     executed_bytes=executed if executed > 0 else None,
                     working_set_bytes=max((t.working_set_bytes for t in timed), default=0) or None,
                     nodes=_unique(n for t in timed for n in t.nodes), shares=tuple(shares.items()),
                     merged_into=", ".join(into) if untimed and all(name in merged_into for name in untimed) and not timed else "")


def fused_groups(layers: Sequence[LayerTime]) -> tuple[LayerTime, ...]:
    """Each layer marked with its fused group: layers whose time came from one engine node are one
    group, named after the layer with the most work (`fused` on it, `fused_into` on the others)."""
    by_node: dict[str, list[int]] = {}
    for index, layer in enumerate(layers):
        if len(layer.nodes) == 1:  # a layer spread over several nodes is its own point
            by_node.setdefault(layer.nodes[0], []).append(index)
    marked = list(layers)
    for members in by_node.values():
        if len(members) < 2:
            continue
        main = max(members, key=lambda i: (layers[i].layer.flops + layers[i].layer.other_flops, layers[i].time_ns))
        for index in members:
            if index == main:
                marked[index] = replace(layers[index], fused=tuple(layers[i].layer.name for i in members if i != main))
            else:
                marked[index] = replace(layers[index], fused_into=layers[main].layer.name)
    return tuple(marked)


def join(cost: ModelCost, nodes: Sequence[NodeTime], merged: Sequence[tuple[str, str]] = ()) -> Join:
    """Every layer of `cost` with the time the engine spent on its ops; nodes of no counted op
    apart. Ops a counted layer holds but no node names are listed (`untimed_ops`), but for those
    the engine `merged` into an equal op it ran once for both: those are named with it (`merged`),
    and the time stays with the op it ran."""
    nodes = reconcile_names(cost, nodes)
    times, inserted, by_layer = op_times(cost, nodes)
    ops = {op.name: op for op in cost.ops}
    merged = tuple((op, into) for op, into in merged if op in ops and into in ops and op not in times)
    layer_of = {op: ops[into].layer or into for op, into in merged}
    layers = fused_groups([_layer_time(layer, times, layer_of) for layer in cost.layers])
    untimed = tuple(op.name for op in cost.ops if op.name not in times and op.name not in layer_of)
    return Join(layers=layers, inserted=tuple(inserted), untimed_ops=untimed, joined_by_layer=by_layer, merged=merged)


def layer_samples(timed: LayerTime, samples: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """The layer's time (ns) in each profiled inference: its share of each of its nodes' times
    there. None when the engine did not time inferences one by one."""
    if not samples or not timed.shares:
        return None
    total = None
    for node, fraction in timed.shares:
        if node not in samples:
            return None
        total = samples[node] * fraction if total is None else total + samples[node] * fraction
    return np.rint(total).astype(np.int64)
