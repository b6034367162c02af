"""A node's own roofline, for the results it gathers: the one cached on the node for this machine
and engine version, else the quick measurement, taken (and cached there) while the point holds the
node's measurement slot. A fleet never waits for the full measurement on a node it has not seen:
`flopbench machine` run on the node once puts the full roofline in its cache."""
from __future__ import annotations

from typing import Any

from ..profiling.roofline import Roofline, cached_roofline, roofline

CACHED = "cached"
MEASURED_QUICK = "measured now: the node had no cached roofline"


def node_roofline(engine: str, device: str = "CPU") -> tuple[Roofline, str]:
    """This node's roofline for `engine` on `device`, and where it came from (`CACHED` or `MEASURED_QUICK`)."""
    found = cached_roofline(engine, device)
    if found is not None:
        return found, CACHED
    return roofline(engine, device, quick=True), MEASURED_QUICK


def roofline_entries(engines: list[str], device: str = "CPU") -> dict[str, dict[str, Any]]:
    """`roofline_entry` of each engine that can measure a roofline (it needs per-node times); an
    engine without them has none, and its bench results need none."""
    from ..errors import ProfilingError
    from ..measure.engines import get_engine

    entries = {}
    for engine in engines:
        try:
            get_engine(engine).check_profilable(device)
        except ProfilingError:
            continue
        entries[engine] = roofline_entry(engine, device)
    return entries


def roofline_entry(engine: str, device: str = "CPU") -> dict[str, Any]:
    """The roofline as a result records it: {"source": ..., "machine": flopbench/machine/1}."""
    roof, source = node_roofline(engine, device)
    return {"source": source, "machine": roof.to_dict()}
