"""Render a measured roofline: measured peaks beside the theoretical ones, the bandwidth of each
memory level with the working sets it holds, and the fixed costs of a node and of a call."""
from __future__ import annotations

import json

from ..profiling.roofline import Roofline
from . import units
from .registry import renderer

def machine_lines(machine: Roofline, cached_from: str | None = None) -> list[str]:
    t = machine.theoretical
    basis = (f"theoretical = {t.get('cores')} cores × {t.get('f32_simd_lanes')} f32 SIMD lanes × {t.get('fma_units')} FMA units "
             f"× 2 × {t.get('clock_ghz') or '?'} GHz (the clock the OS reports; bf16 dot products ×2, int8 VNNI ×4)")
    return [
        f"{machine.cpu}, {machine.cores} usable core(s); {machine.engine} {machine.engine_version.split('-')[0]} on {machine.device}",
        f"memory bandwidth (DRAM): {machine.bandwidth_gb_per_s:,.1f} GB/s, measured on a working set of "
        f"{units.binary_bytes(machine.bandwidth_bytes)}",
        *([f"fixed cost: {units.duration(machine.node_overhead_ns)} per executed node, "
           f"{units.duration(machine.call_overhead_ns)} per engine call"] if machine.node_overhead_ns is not None else []),
        *[f"{level.name} measured {level.bandwidth_gb_per_s:,.1f} GB/s, below a level beyond it; a cache is never slower "
          f"than the memory behind it, so layers it holds are placed at {machine.level_bandwidth(level):,.1f} GB/s (its "
          "sizes' times were mostly the node's fixed cost, or were disturbed by other work)"
          for level in machine.memory_levels() if level.name in machine.disturbed_levels()],
        basis,
        f"measured {machine.measured_at} in {machine.seconds:.1f} s{' (quick plan)' if machine.quick else ''}: "
        "each peak is the best block's node time from the engine's profiler (PERF_COUNT / kernel events)",
        *([f"these figures are from the cache ({cached_from}), measured {machine.measured_at}, not now; "
           "flopbench machine --remeasure measures again"] if cached_from else []),
    ]


@renderer("machine", "table")
def machine_table(machine: Roofline, cached_from: str | None = None):
    """The peaks, the bandwidth per level and what they rest on; `cached_from` (the cache file the
    roofline was read from) is said, with when it was measured."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Peak compute (GFLOP/s)", title_justify="left", header_style="bold")
    for column in ("Precision", "Measured", "Theoretical", "Measured / theoretical", "Reached by", "Kernel"):
        table.add_column(column, justify="left" if column in ("Precision", "Kernel") else "right")
    for peak in machine.peaks.values():
        share = (f"{100 * peak.gflops_per_s / peak.theoretical_gflops_per_s:.0f}%"
                 if peak.theoretical_gflops_per_s else "")
        table.add_row(peak.precision, units.fixed(peak.gflops_per_s), units.fixed(peak.theoretical_gflops_per_s), share,
                      peak.op, peak.kernel)
    return Group(table, levels_table(machine), Text("\n".join(machine_lines(machine, cached_from))))


def level_range(level) -> str:
    low = units.binary_bytes(level.holds_from_bytes) if level.holds_from_bytes else "0"
    return f"above {low}" if level.holds_to_bytes is None else f"{low} – {units.binary_bytes(level.holds_to_bytes)}"


def levels_table(machine: Roofline):
    from rich.table import Table

    table = Table(title="Memory bandwidth per level (a chain of the engine's elementwise nodes)", title_justify="left",
                  header_style="bold")
    for column in ("Level", "Holds working sets", "GB/s", "Measured on"):
        table.add_column(column, justify="right" if column == "GB/s" else "left")
    for level in machine.memory_levels():
        table.add_row(level.name, level_range(level),
                      units.fixed(level.bandwidth_gb_per_s, missing="unresolved (the node's fixed cost)"),
                      ", ".join(units.binary_bytes(size) for size in level.measured_on))
    return table


@renderer("machine", "json")
def machine_json(machine: Roofline) -> str:
    return json.dumps(machine.to_dict(), indent=2) + "\n"
