"""The results of counting: frozen rows that renderers print and that a profile joins by op name."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..model.reading import ModelInputInfo
from ..model.shapes import format_shape
from ..results.display import as_html, as_text
from ..results.codec import Derived, encoded, json_field, result_kind
from ..results.documents import data_frame
from .memory import ActivationMemory
from .records import quick_init

Shape = tuple[int, ...]

def _text(shape) -> str:
    return format_shape(shape) if shape else ""


NOTE_NO_FORMULA = "no formula for this op type"
NOTE_DYNAMIC = "shapes are dynamic"


@quick_init
@encoded(derived=("flops", "weight_bytes"))
@dataclass(frozen=True)
class OpCost:
    """One operation of the model's graph, as OpenVINO names and types it."""

    name: str  # the op's friendly name: what OpenVINO's originalLayersNames refer to
    type: str  # the OpenVINO op type, e.g. "GroupConvolution"
    layer: str  # the name of the layer this op belongs to
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    kernel: Shape | None  # spatial kernel, for convolutions and pooling
    kernels: int | None  # output channels / units
    macs: int
    other_flops: int  # elementwise, pooling, normalization ... (see the README's table)
    params: int
    bytes_read: int
    bytes_written: int
    counted: bool  # False when no formula exists for the op type (or its shapes are dynamic)
    note: str = ""
    # what the MACs run at: "int8" when data and weights come quantized, else the float type ("f32")
    precision: str = ""
    # stored bytes of the weights this op reads first, by stored element type: (("f32", 40), ("i8", 90))
    stored_weights: tuple[tuple[str, int], ...] = json_field(mapping=True, default=())
    # bytes of the weights this op reads first once the graph has computed them: as stored, except
    # weights the graph makes (ConstantOfShape, Expand ...), at the type the op reads
    materialized_weight_bytes: int = 0

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def weight_bytes(self) -> int:
        return sum(size for _, size in self.stored_weights)

    @property
    def integer(self) -> bool:
        return self.precision.startswith("int")

    def record(self) -> dict[str, Any]:
        """One flat row of plain values (CSV, a DataFrame)."""
        return {
            "op": self.name, "type": self.type, "layer": self.layer,
            "inputs": " ".join(_text(s) for s in self.input_shapes), "output": " ".join(_text(s) for s in self.output_shapes),
            "macs": self.macs, "flops": self.flops, "other_flops": self.other_flops, "params": self.params,
            "bytes_read": self.bytes_read, "bytes_written": self.bytes_written, "counted": self.counted,
            "precision": self.precision, "weight_bytes": self.weight_bytes,
        }


class OpSums:
    """What a group of ops (a layer, a model) adds up to; `ops` is the group's.

    The sums are taken in one pass over the ops on first use and kept: a page of 100,000 layers
    reads each layer's sums several times and the model's totals many times, and the group is
    frozen, so they cannot change. They are kept in the instance's `__dict__` under a name that is
    no field: equality, hashing, `replace()` and the JSON see only the fields."""

    ops: tuple[OpCost, ...]

    def _sums(self) -> dict[str, int]:
        try:
            return self.__dict__["_op_sums"]
        except KeyError:
            pass
        macs = other = params = read = written = 0
        for op in self.ops:
            macs += op.macs
            other += op.other_flops
            params += op.params
            read += op.bytes_read
            written += op.bytes_written
        sums = {"macs": macs, "other_flops": other, "params": params, "bytes_read": read, "bytes_written": written}
        self.__dict__["_op_sums"] = sums
        return sums

    def _weight_sums(self) -> dict[str, int]:
        """The weights' sums apart from the others: a chart or a table row of a layer needs only
        its FLOPs, and a model of 100,000 layers would walk their weights for nothing."""
        try:
            return self.__dict__["_op_weight_sums"]
        except KeyError:
            pass
        weights = integer = materialized = 0
        for op in self.ops:
            for _, size in op.stored_weights:
                weights += size
            if op.macs and op.precision.startswith("int"):
                integer += op.macs
            materialized += op.materialized_weight_bytes
        sums = {"weight_bytes": weights, "integer_macs": integer, "materialized_weight_bytes": materialized}
        self.__dict__["_op_weight_sums"] = sums
        return sums

    def _kept(self, name: str, compute):
        """`compute()` once, kept like the sums."""
        try:
            return self.__dict__[name]
        except KeyError:
            value = self.__dict__[name] = compute()
            return value

    @property
    def macs(self) -> int:
        return self._sums()["macs"]

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def other_flops(self) -> int:
        return self._sums()["other_flops"]

    @property
    def params(self) -> int:
        return self._sums()["params"]

    @property
    def bytes_read(self) -> int:
        return self._sums()["bytes_read"]

    @property
    def bytes_written(self) -> int:
        return self._sums()["bytes_written"]

    @property
    def weight_bytes(self) -> int:
        """Every stored weight once, at its stored precision (quantization scales and ranges included)."""
        return self._weight_sums()["weight_bytes"]


def _layer_total_flops(layer: "LayerCost", options: Mapping[str, Any]) -> int:
    return layer.total_flops(options.get("include_other", False))


@quick_init
@encoded(derived=("macs", "flops", "other_flops", Derived("total_flops", _layer_total_flops), "params", "bytes_read",
                  "bytes_written", "counted", "precision", "weight_bytes", "activation_bytes"))
@dataclass(frozen=True)
class LayerCost(OpSums):
    """Ops grouped the way a person reads a network: a SeparableConv2D, a FullyConnected …

    A SeparableConv2D has two `parts` (depthwise, pointwise), each a LayerCost of its own, so the
    table can show the exercise's sub-rows; the sums of the parts are the layer's.
    """

    name: str
    type: str
    ops: tuple[OpCost, ...] = json_field(by_name="ops")  # written as the ops' names, read back from the model's ops
    input_shape: Shape | None
    output_shape: Shape | None
    kernel: Shape | None
    kernels: int | None
    parts: tuple["LayerCost", ...] = ()
    role: str = ""  # "depthwise" / "pointwise" for the parts of a separable layer


    @property
    def counted(self) -> bool:
        return self._kept("_kept_counted", lambda: all(op.counted for op in self.ops))

    @property
    def precision(self) -> str:
        """The precision of the layer's multiply-accumulates (its first op's, for a layer without)."""
        return self._kept("_kept_precision", self._precision)

    def _precision(self) -> str:
        with_macs = [op.precision for op in self.ops if op.macs]
        return "+".join(dict.fromkeys(with_macs)) if with_macs else (self.ops[0].precision if self.ops else "")

    @property
    def activation_bytes(self) -> int:
        """Bytes of the layer's output tensors (at the graph's element type)."""
        return self.ops[-1].bytes_written if self.ops else 0

    def total_flops(self, include_other: bool) -> int:
        return self.flops + (self.other_flops if include_other else 0)

    def record(self, parent: str = "", include_other: bool = False) -> dict[str, Any]:
        """One flat row of plain values; a part of a separable layer names its parent."""
        return {
            "layer": self.name, "parent": parent, "type": self.type, "role": self.role,
            "input": _text(self.input_shape), "kernel": _text(self.kernel), "kernels": self.kernels,
            "output": _text(self.output_shape), "macs": self.macs, "flops": self.flops,
            "other_flops": self.other_flops, "total_flops": self.total_flops(include_other), "params": self.params,
            "bytes": self.bytes_read + self.bytes_written, "precision": self.precision,
            "weight_bytes": self.weight_bytes, "activation_bytes": self.activation_bytes,
        }


@result_kind("count", version=1, passes=("ops", "include_other"),
             derived=("totals", "macs_by_precision", "weight_bytes_by_type", "not_counted", "dynamic_shapes"),
             extras=("memory_budget", "measured_memory"))  # written by `flops --memory-budget/--measure-memory`
@dataclass(frozen=True, repr=False)
class ModelCost(OpSums):
    """Everything counted about one model: ops, the layers they form, and the totals."""

    model: str  # the model's file path as given
    format: str
    inputs: tuple[ModelInputInfo, ...]
    ops: tuple[OpCost, ...]
    layers: tuple[LayerCost, ...]
    include_other: bool = json_field(json="include_other_flops", default=False)  # whether `total_flops` adds the "other" FLOPs
    metadata: Mapping[str, Any] = json_field(default_factory=dict, compare=False)  # stamped when the count is made
    memory: ActivationMemory | None = None  # the activation memory along the graph's order


    @property
    def total_flops(self) -> int:
        """The headline number: conv / matmul FLOPs, plus the other FLOPs when asked for."""
        return self.flops + (self.other_flops if self.include_other else 0)

    @property
    def macs_by_precision(self) -> dict[str, int]:
        """MACs per precision they run at: {"int8": …, "f32": …}."""
        found: dict[str, int] = {}
        for op in self.ops:
            if op.macs:
                found[op.precision] = found.get(op.precision, 0) + op.macs
        return dict(sorted(found.items()))

    @property
    def integer_macs(self) -> int:
        return self._weight_sums()["integer_macs"]

    @property
    def float_macs(self) -> int:
        return self.macs - self.integer_macs

    @property
    def materialized_weight_bytes(self) -> int:
        """Every weight once, in the bytes it takes once the graph has computed it: `weight_bytes`
        for stored weights, far more for weights the graph makes (ConstantOfShape, Expand ...)."""
        return self._weight_sums()["materialized_weight_bytes"]

    @property
    def weight_bytes_by_type(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for op in self.ops:
            for element, size in op.stored_weights:
                found[element] = found.get(element, 0) + size
        return dict(sorted(found.items()))

    @property
    def peak_activation_bytes(self) -> int:
        return self.memory.peak_bytes if self.memory else 0

    def _uncounted(self, dynamic: bool) -> dict[str, int]:
        found: dict[str, int] = {}
        for op in self.ops:
            if not op.counted and (op.note == NOTE_DYNAMIC) == dynamic:
                found[op.type] = found.get(op.type, 0) + 1
        return dict(sorted(found.items()))

    @property
    def not_counted(self) -> dict[str, int]:
        """Op types with no formula (or whose formula failed), and how many ops of each type."""
        return self._uncounted(dynamic=False)

    @property
    def dynamic_shapes(self) -> dict[str, int]:
        """Op types left uncounted because their shapes stay dynamic (data-dependent), by count."""
        return self._uncounted(dynamic=True)

    def layer(self, name: str) -> LayerCost:
        for layer in self.layers:
            if layer.name == name:
                return layer
            for part in layer.parts:
                if part.name == name:
                    return part
        raise KeyError(name)

    def op(self, name: str) -> OpCost:
        for op in self.ops:
            if op.name == name:
                return op
        raise KeyError(name)

    @property
    def totals(self) -> dict[str, int]:
        return {
            "macs": self.macs,
            "flops": self.flops,
            "other_flops": self.other_flops,
            "total_flops": self.total_flops,
            "params": self.params,
            "bytes_read": self.bytes_read,
            "bytes_written": self.bytes_written,
            "integer_macs": self.integer_macs,
            "float_macs": self.float_macs,
            "weight_bytes": self.weight_bytes,
            "materialized_weight_bytes": self.materialized_weight_bytes,
            "peak_activation_bytes": self.peak_activation_bytes,
        }

    def rows(self, by: str = "layer") -> list[dict[str, Any]]:
        """Plain rows for a DataFrame: one per layer and per part of a layer (`by="layer"`), or one
        per op (`by="op"`)."""
        if by == "op":
            return [op.record() for op in self.ops]
        if by != "layer":
            raise ValueError(f"rows(by={by!r}): choose 'layer' or 'op'")
        records = []
        for layer in self.layers:
            records.append(layer.record("", self.include_other))
            records.extend(part.record(layer.name, self.include_other) for part in layer.parts)
        return records

    def to_pandas(self, by: str = "layer"):
        """`rows(by)` as a pandas DataFrame (needs pandas)."""
        return data_frame(self.rows(by))

    def __repr__(self) -> str:
        return (f"ModelCost({self.model!r}: {self.total_flops:,} FLOPs, {self.macs:,} MACs, {self.params:,} parameters, "
                f"{len(self.layers)} layers; print() it for the table)")

    def __str__(self) -> str:
        return as_text(self)

    def _repr_html_(self) -> str:
        return as_html(self)
