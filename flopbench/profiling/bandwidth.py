"""Memory bandwidth per cache level, measured with the engine's own elementwise op.

A chain of K Sub nodes, x[i+1] = x[i] - x[i-1], each reading the two tensors the nodes before it
wrote and writing a third: a layer's situation exactly (it reads what the previous layer left in
the caches). Every x[i] feeds two nodes, so no engine fuses the chain (OpenVINO is also told to
keep its elementwise nodes apart). A chain of 2K nodes minus a chain of K, over K, is one node's
time with the engine's call cost taken out; each chain's time is its fastest inference (a loaded
machine only ever makes one slower). The node's time on a tensor of 16 elements is the fixed cost
of one executed node; bandwidth at a size is bytes / (node time - that fixed cost).

Working sets are swept from well inside L1 to several times the last-level cache; each level's
bandwidth is the median over the sizes it holds with room to spare (up to half its size), and
DRAM's is measured only on working sets above 4× the last-level cache, so that no cache plateau is
ever reported as DRAM bandwidth."""
from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..measure.engines import EngineConfig, engine_errors, get_engine
from ..measure.policy import STOP_INTERRUPTED, RunPolicy, run_sync
from .caches import CacheSize

ELEMENT_BYTES = 4  # float32
TOUCHED = 3  # a node reads two tensors and writes one
OVERHEAD_ELEMENTS = 16  # a tensor whose bytes cost nothing next to the node's fixed cost
DRAM_FACTOR = 4  # DRAM bandwidth only from working sets above this many last-level caches
DRAM_SIZE_FACTOR = 6  # the quick plan's DRAM working set, in last-level caches
ROOM = 2  # a level's plateau is measured on working sets up to 1/ROOM of its size
CHAIN_BYTES = 8 << 20  # a chain long enough to move about this much per inference
MIN_CHAIN = 4  # long enough that the difference of two chains is well above the noise of one call
MAX_CHAIN = 128
NO_CACHE_DRAM_BYTES = 256 << 20  # when the OS names no cache


@dataclass(frozen=True)
class BandwidthPoint:
    """One working-set size of the sweep."""

    working_set_bytes: int  # what one node touches: its two inputs and its output
    nodes: int  # K, the short chain's length
    node_ns: float  # one node's time
    bandwidth_gb_per_s: float | None  # bytes / (node time - fixed node cost); None when not slower than an empty node


@dataclass(frozen=True)
class MemoryLevel:
    """A level of the memory hierarchy and the bandwidth a node gets when its working set lives there."""

    name: str  # "L1", "L2", "L3", "DRAM"
    holds_from_bytes: int  # it serves working sets above this ...
    holds_to_bytes: int | None  # ... up to this (None: no limit)
    bandwidth_gb_per_s: float | None  # None: no size it holds was measurable
    measured_on: tuple[int, ...] = ()  # the working sets (bytes) the plateau is the median of

    def holds(self, working_set_bytes: float) -> bool:
        return working_set_bytes > self.holds_from_bytes and (self.holds_to_bytes is None or working_set_bytes <= self.holds_to_bytes)


@dataclass(frozen=True)
class Sweep:
    points: tuple[BandwidthPoint, ...]
    node_overhead_ns: float  # one executed node of no size
    call_overhead_ns: float  # one call of the engine, beyond its nodes
    levels: tuple[MemoryLevel, ...]


# ---- which sizes ---------------------------------------------------------------------------------

def windows(caches: Sequence[CacheSize]) -> list[tuple[str, int, int | None]]:
    """(level, smallest, largest working set) each plateau is measured on: a cache from above the
    level before it to 1/ROOM of its own size; DRAM from DRAM_FACTOR× the last cache up."""
    found, below = [], 0
    for cache in caches:
        found.append((cache.name, below, cache.bytes // ROOM))
        below = cache.bytes
    found.append(("DRAM", DRAM_FACTOR * below if caches else 0, None))
    return found


def sweep_sizes(caches: Sequence[CacheSize], quick: bool) -> list[int]:
    """Working sets to measure: the quick plan one in the middle of each level's window (DRAM at
    DRAM_SIZE_FACTOR× the last cache); the full plan every power-of-two step from 1/8 of L1 to
    2 × DRAM_SIZE_FACTOR× the last cache, plus those."""
    if not caches:
        return [NO_CACHE_DRAM_BYTES]
    middles = []
    for _, low, high in windows(caches):
        if high is None:
            middles.append(DRAM_SIZE_FACTOR * caches[-1].bytes)
        else:
            low = max(low, caches[0].bytes // 8)
            middles.append(int(math.sqrt(low * high)) if high > low else high)
    if quick:
        return sorted(set(_rounded(size) for size in middles))
    sizes, size = set(middles), caches[0].bytes // 8
    while size <= 2 * DRAM_SIZE_FACTOR * caches[-1].bytes:
        sizes.add(size)
        size *= 2
    return sorted(set(_rounded(s) for s in sizes))


def _rounded(working_set: int) -> int:
    """A working set of whole 64-byte lines per tensor."""
    elements = max(16, working_set // (TOUCHED * ELEMENT_BYTES) // 16 * 16)
    return elements * TOUCHED * ELEMENT_BYTES


def chain_length(working_set: int) -> int:
    return max(MIN_CHAIN, min(MAX_CHAIN, CHAIN_BYTES // max(working_set, 1)))


# ---- the measuring model ---------------------------------------------------------------------------

def chain_model(folder: Path, elements: int, nodes: int) -> Path:
    import onnx
    from onnx import helper

    made, older, newer = [], "a", "b"
    for index in range(nodes):
        output = "y" if index == nodes - 1 else f"x{index}"
        made.append(helper.make_node("Sub", [newer, older], [output], name=f"sub{index}"))
        older, newer = newer, output
    inputs = [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [elements]) for n in ("a", "b")]
    graph = helper.make_graph(made, "chain", inputs, [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [elements])])
    path = folder / f"chain_{elements}_{nodes}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


class _Chain:
    """A compiled chain and its fastest inference so far."""

    def __init__(self, engine, device: str, path: Path, elements: int):
        import numpy as np

        config = EngineConfig(device=device, hint="latency", precision=engine.roofline_setting("f32"), separate_nodes=True,
                              alternating=True)  # the short and the long chain take turns
        with engine_errors(engine.name):
            self.runner = engine.compile(str(path), {"a": (elements,), "b": (elements,)}, config)
        # the sequence stays bounded (period 6): no infinities, no denormals
        # kept alive here: the engine reads them in place
        self.arrays = {"a": np.full(elements, 1.0, np.float32), "b": np.full(elements, 2.0, np.float32)}
        self.step, self.engine_latencies = self.runner.sync_step(self.arrays)
        self.best_ns = math.inf

    def block(self, seconds: float) -> None:
        """Inferences for `seconds` and at least 3, through bench's timed loop; Ctrl-C is raised again."""
        record = run_sync(self.step, RunPolicy(warmup_iterations=0, min_duration_s=seconds, min_iterations=3))
        if record.stop_reason == STOP_INTERRUPTED:
            raise KeyboardInterrupt
        latest = self.engine_latencies()[-record.iterations:] if self.engine_latencies is not None else record.latencies_ns
        self.best_ns = min(self.best_ns, float(min(latest)))

    def close(self) -> None:
        self.runner.close()


def node_time(engine, device: str, folder: Path, working_set: int, seconds: float, nodes: int | None = None
              ) -> tuple[float, float, int]:
    """(one node's time, the short chain's time, K) in ns for a working set, from alternating
    blocks of the two chains."""
    elements = working_set // (TOUCHED * ELEMENT_BYTES)
    nodes = nodes or chain_length(working_set)
    short = _Chain(engine, device, chain_model(folder, elements, nodes), elements)
    long = _Chain(engine, device, chain_model(folder, elements, 2 * nodes), elements)
    try:
        with engine_errors(engine.name):
            for chain in (short, long):  # a first call pages the buffers in
                chain.step()
            started = time.perf_counter()
            blocks = 0
            while blocks < 3 or time.perf_counter() - started < seconds:
                for chain in (short, long):
                    chain.block(min(0.05, seconds / 10))
                blocks += 1
    finally:
        short.close()
        long.close()
    return max(0.0, (long.best_ns - short.best_ns) / nodes), short.best_ns, nodes


def plateaus(points: Sequence[BandwidthPoint], caches: Sequence[CacheSize]) -> tuple[MemoryLevel, ...]:
    """Each level's bandwidth: the median over the points in its window."""
    levels = []
    holds_from = 0
    for (name, low, high), cache in zip(windows(caches), [*caches, None]):
        inside = [p for p in points if p.working_set_bytes > low and (high is None or p.working_set_bytes <= high)
                  and p.bandwidth_gb_per_s is not None]
        levels.append(MemoryLevel(name=name, holds_from_bytes=holds_from, holds_to_bytes=cache.bytes if cache else None,
                                  bandwidth_gb_per_s=statistics.median(p.bandwidth_gb_per_s for p in inside) if inside else None,
                                  measured_on=tuple(p.working_set_bytes for p in inside)))
        holds_from = cache.bytes if cache else holds_from
    return tuple(levels)


def measure_sweep(engine_name: str, device: str, caches: Sequence[CacheSize], quick: bool, folder: Path,
                  seconds_per_size: float, progress: Callable[[str], None] | None = None) -> Sweep:
    engine = get_engine(engine_name)
    if progress:
        progress("the fixed cost of one node and of one call")
    empty = _rounded(OVERHEAD_ELEMENTS * TOUCHED * ELEMENT_BYTES)
    overhead_ns, short_ns, nodes = node_time(engine, device, folder, empty, seconds_per_size, nodes=MAX_CHAIN)
    call_ns = max(0.0, short_ns - nodes * overhead_ns)
    points = []
    for size in sweep_sizes(caches, quick):
        if progress:
            progress(f"bandwidth on a working set of {size / 1e6:,.3f} MB")
        node_ns, _, nodes = node_time(engine, device, folder, size, seconds_per_size)
        moving = node_ns - overhead_ns
        points.append(BandwidthPoint(size, nodes, node_ns, size / moving if moving > 0 else None))
    return Sweep(points=tuple(points), node_overhead_ns=overhead_ns, call_overhead_ns=call_ns,
                 levels=plateaus(points, caches))
