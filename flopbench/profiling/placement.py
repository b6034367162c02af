"""Where a layer sits on this machine's roofline, and the time the roof gives it.

The layer's working set (all its node reads and writes, as executed) decides the memory level that
serves it — the smallest of L1, L2, L3 it fits in, else DRAM — and so the slope it is held to. Its
time on the roof is the larger of its FLOPs at the precision's peak and its bytes at that level's
bandwidth, plus the fixed cost of the engine nodes it runs as. `bound` names what dominates: the
compute peak, a memory level, or the fixed cost (`overhead`) when that exceeds both.

A layer's weights are the exception to its working set: they were last read one inference ago,
and every byte the inference touched since has passed through the caches. Given the bytes one
inference touches (its reuse distance), they are read from the level that holds those; a
one-layer model's weights stay where its working set is, a large network's stream from DRAM."""
from __future__ import annotations

from dataclasses import dataclass

from .roofline import Roofline

OVERHEAD_ROOF_US = 5.0  # a roofline without a measured node cost: below this the layer counts as overhead-bound


@dataclass(frozen=True)
class Placement:
    level: str  # the memory level that holds the working set: "L1", "L2", "L3", "DRAM"
    bandwidth_gb_per_s: float  # that level's
    peak_gflops_per_s: float
    compute_us: float  # FLOPs at the peak
    memory_us: float  # bytes at the level's bandwidth
    overhead_us: float  # the fixed cost of its nodes
    bound: str  # "compute", a level's name, or "overhead"
    attainable_gflops_per_s: float  # min(peak, intensity × the level's bandwidth)

    @property
    def time_us(self) -> float:
        """What the roof says the layer takes: the slower of compute and memory, plus its fixed cost."""
        return max(self.compute_us, self.memory_us) + self.overhead_us


def place(flops: float, moved_bytes: float, working_set_bytes: float, precision: str, roof: Roofline,
          nodes: float = 1.0, weight_bytes: float = 0.0, reuse_distance_bytes: float = 0.0) -> Placement:
    """A layer of `flops` moving `moved_bytes`, whose nodes touch `working_set_bytes`, run as
    `nodes` engine nodes, on `roof` at `precision` ("f32", "bf16", "i8"). Of the bytes moved,
    `weight_bytes` come from the level that holds `reuse_distance_bytes` (the bytes one inference
    touches) when that is beyond the working set's."""
    level = roof.level_for(working_set_bytes)
    bandwidth = roof.level_bandwidth(level)
    peak = roof.peak(precision).gflops_per_s
    compute_us = flops / (peak * 1e3)
    memory_us = moved_bytes / (bandwidth * 1e3)
    streamed_from = level
    if 0 < weight_bytes <= moved_bytes and reuse_distance_bytes > working_set_bytes:
        streamed_from = roof.level_for(reuse_distance_bytes)
        weights_us = weight_bytes / (roof.level_bandwidth(streamed_from) * 1e3)
        memory_us = (moved_bytes - weight_bytes) / (bandwidth * 1e3) + weights_us
        if weights_us < memory_us / 2:
            streamed_from = level  # the activations, at the working set's level, take most of the time
    measured_overhead = roof.node_overhead_ns is not None
    overhead_us = nodes * roof.node_overhead_ns / 1e3 if measured_overhead else 0.0
    slowest = max(compute_us, memory_us)
    if (overhead_us > slowest) if measured_overhead else (slowest < OVERHEAD_ROOF_US):
        bound = "overhead"
    else:
        bound = "compute" if compute_us >= memory_us else streamed_from.name
    intensity = flops / moved_bytes if moved_bytes else None
    effective = moved_bytes / (memory_us * 1e3) if memory_us > 0 else bandwidth  # weights and activations from their levels
    attainable = min(peak, intensity * effective) if intensity is not None else peak
    return Placement(level=level.name, bandwidth_gb_per_s=bandwidth, peak_gflops_per_s=peak, compute_us=compute_us,
                     memory_us=memory_us, overhead_us=overhead_us, bound=bound, attainable_gflops_per_s=attainable)
