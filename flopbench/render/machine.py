"""Render a measured roofline: measured peaks beside the theoretical ones, and the bandwidth."""
from __future__ import annotations

import json

from ..profiling.machine import Machine
from . import units
from .text import check_format

FORMATS = ("table", "json")


def machine_lines(machine: Machine) -> list[str]:
    t = machine.theoretical
    basis = (f"theoretical = {t.get('cores')} cores × {t.get('f32_simd_lanes')} f32 SIMD lanes × {t.get('fma_units')} FMA units "
             f"× 2 × {t.get('clock_ghz') or '?'} GHz (the clock the OS reports; bf16 dot products ×2, int8 VNNI ×4)")
    return [
        f"{machine.cpu}, {machine.cores} usable core(s); {machine.engine} {machine.engine_version.split('-')[0]} on {machine.device}",
        f"memory bandwidth: {machine.bandwidth_gb_per_s:,.1f} GB/s (an Add moving {machine.bandwidth_bytes / 1e6:,.0f} MB)",
        basis,
        f"measured {machine.measured_at} in {machine.seconds:.1f} s{' (quick plan)' if machine.quick else ''}: "
        "each peak is the best block's node time from the engine's profiler (PERF_COUNT / kernel events)",
    ]


def machine_table(machine: Machine):
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
    return Group(table, Text("\n".join(machine_lines(machine))))


def render_machine(machine: Machine, fmt: str = "table"):
    check_format(fmt, FORMATS)
    if fmt == "json":
        return json.dumps(machine.to_dict(), indent=2) + "\n"
    return machine_table(machine)
